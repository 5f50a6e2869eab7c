import Events
import Foundation
import Protocol
import Testing

/// The stdout events: the line every script reads, and the structs every Swift reader uses.
@Suite struct EventsTests {
    /// The keys scripts read with jq are the ones printed (snake case, "event" first-class).
    @Test func readyIsPrintedWithTheKeysScriptsRead() throws {
        let ready = LearnerReady(runID: "r1", data: ["tcp://127.0.0.1:5555"], weights: ["tcp://127.0.0.1:5556"],
                                 control: ["tcp://127.0.0.1:5557"], metrics: "http://127.0.0.1:5558")
        let line = EventLine.encode(ready)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["event"] as? String == "ready")
        #expect(object["run_id"] as? String == "r1")
        #expect(object["data"] as? [String] == ["tcp://127.0.0.1:5555"])
        #expect(!line.contains("\\/"), "URLs are written without escaped slashes: \(line)")
        #expect(EventLine.decode(LearnerReady.self, from: line) == ready)
        #expect(EventLine.name(of: line) == "ready")
    }

    /// Another event, or a line that is not JSON, is not taken for this one.
    @Test func decodingChecksTheEventName() {
        let acting = EventLine.encode(WorkerActing(incarnation: 7, unixTime: 1.5))
        #expect(EventLine.decode(WorkerSessionStarted.self, from: acting) == nil)
        #expect(EventLine.decode(WorkerActing.self, from: acting) == WorkerActing(incarnation: 7, unixTime: 1.5))
        #expect(EventLine.decode(WorkerActing.self, from: "learner listening") == nil)
        #expect(throws: (any Error).self) { try EventLine.decodeOrThrow(WorkerActing.self, from: #"{"event":"acting"}"#) }
    }

    /// The summary carries the whole StatusReply in its JSON mapping (the same object
    /// `tributary status --json` prints) and reads back equal, 64-bit counters exact.
    @Test func theSummaryRoundTripsItsStatusReply() throws {
        var status = Tributary_V1_StatusReply()
        status.runID = "run"
        status.updates = (1 << 60) + 1
        status.meanReturn100 = 487.25
        status.rejected = ["non_finite": 3]
        status.accounting.dropped = ["stale": 2]
        status.trainedLag.counts = [0, 5, 9]
        var worker = Tributary_V1_WorkerStatus()
        worker.workerID = "w"
        worker.keyName = "gpu-3"
        status.workers = [worker]
        var transport = TransportTotals()
        transport.bytesReceived = 42
        let summary = LearnerSummary(ingestSeconds: 1.25, solved: .init(seconds: 1, steps: 2, updates: 3, unixTime: 4),
                                     runDirectory: "/runs/x", status: status, transport: transport)
        let line = EventLine.encode(summary)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let printed = try #require(object["status"] as? [String: Any])
        #expect(printed["mean_return_100"] as? Double == 487.25)
        #expect((printed["updates"] as? NSNumber)?.uint64Value == (1 << 60) + 1, "a number, not a string: \(line)")
        #expect((object["transport"] as? [String: Any])?["bytes_received"] as? Int == 42)
        let back = try EventLine.decodeOrThrow(LearnerSummary.self, from: line)
        #expect(back == summary)
        #expect(back.status.updates == (1 << 60) + 1)
        // And it is what `tributary status --json` would print for the same reply.
        #expect(try WireJSON.decode(Tributary_V1_StatusReply.self, from: WireJSON.string(status)) == status)
    }

    @Test func aWorkerSummaryListsItsIncarnations() throws {
        var stats = IncarnationStats(incarnation: 9)
        stats.welcomed = true
        stats.sent = 10
        stats.rejected = ["shutting_down": 1]
        stats.ended = "goodbye: shutdown"
        let line = EventLine.encode(WorkerSummary(incarnations: [stats]))
        #expect(line.contains(#""event":"summary""#))
        #expect(EventLine.decode(WorkerSummary.self, from: line)?.incarnations == [stats])
    }

    /// A mean return that is not a number yet (no episode) is null, not an unencodable line.
    @Test func aNonFiniteMeanReturnIsNull() throws {
        var demo = DemoSummary(env: "CartPole-v1", seed: 1, workers: 2, envsPerWorker: 16, solved: false, wallS: 3, envSteps: 0,
                               updates: 0, episodes: 0, meanReturn100: .nan, lagMean: 0, lagMax: 0, runDirectory: nil)
        demo.startupS = 0.2
        let line = EventLine.encode(demo)
        #expect(line.contains(#""mean_return_100":null"#), "\(line)")
        #expect(line.contains(#""startup_s":0.2"#), "\(line)")
        let back = try EventLine.decodeOrThrow(DemoSummary.self, from: line)
        #expect(back.meanReturn100.isNaN && back.startupS == 0.2 && back.solveWallS == nil)
    }
}
