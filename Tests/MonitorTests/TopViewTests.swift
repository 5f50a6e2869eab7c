import Domain
import Foundation
import Protocol
import Testing
@testable import Monitor

/// `tributary top`'s screen, rendered from a status reply recorded from a live learner
/// (CartPole, η 4, three workers of which one was killed and expired).
@Suite struct TopViewTests {
    static func recorded() throws -> Tributary_V1_StatusReply {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/status-cartpole.json")
        return try Tributary_V1_StatusReply(jsonUTF8Data: try Data(contentsOf: url))
    }

    @Test func fillsAnEightyByTwentyFourTerminalExactly() throws {
        let lines = TopView.render(try Self.recorded(), columns: 80, rows: 24, learner: "tcp://127.0.0.1:5557")
        #expect(lines.count == 24)
        for line in lines { #expect(line.count <= 80, "too wide: \(line)") }
        let screen = lines.joined(separator: "\n")
        #expect(screen.contains("run run-d67e7c5c"))
        #expect(screen.contains("version 682  updates 681"))
        #expect(screen.contains("η 4"))
        #expect(screen.contains("received 1,370 = trained 1,364 + dropped 0 + buffered 6"))
        #expect(screen.contains("staleness (trained): 349,184 samples   p50 5  p90 5  p99 6  max 7  mean 4.5"), "\(screen)")
    }

    @Test func showsARowPerWorkerWithRatesAndWhyOneLeft() throws {
        let lines = TopView.render(try Self.recorded(), columns: 80, rows: 24)
        let rows = lines.filter { $0.hasPrefix("rig-") }
        #expect(rows.count == 3)
        let live = try #require(rows.first { $0.hasPrefix("rig-0") })
        #expect(live.contains("119.7") && live.hasSuffix("ok"), "\(live)")
        let gone = try #require(rows.first { $0.hasPrefix("rig-2") })
        #expect(gone.contains("expired: silent"), "\(gone)")
    }

    @Test func drawsTheHistogramAndGaugesAsBars() throws {
        let lines = TopView.render(try Self.recorded(), columns: 80, rows: 24)
        // One bar row per lag 0…7; lag 5 holds the most samples, so its bar is the longest.
        let bars = lines.filter { $0.contains("│") }
        #expect(bars.count == 8)
        let lengths = bars.map { $0.filter { $0 == "█" }.count }
        #expect(lengths.firstIndex(of: lengths.max()!) == 5)
        let eta = try #require(lines.first { $0.hasPrefix("η budget") })
        #expect(eta.contains(" 60%") && eta.contains("48/80 columns"), "\(eta)")
    }

    @Test func aSmallTerminalStillGetsEveryLineWithinBounds() throws {
        let lines = TopView.render(try Self.recorded(), columns: 60, rows: 12)
        #expect(lines.count == 12)
        for line in lines { #expect(line.count <= 60, "too wide: \(line)") }
    }

    @Test func aLargerTerminalGetsMoreColumnsAndRowsNotOnlyLongerBars() throws {
        var s = try Self.recorded()
        // Twenty more workers than fit in 24 rows.
        for i in 0..<20 {
            var w = s.workers[0]
            w.workerID = "extra-\(i)"
            s.workers.append(w)
        }
        let small = TopView.render(s, columns: 80, rows: 24)
        let large = TopView.render(s, columns: 160, rows: 60)
        #expect(large.count == 60)
        for line in large { #expect(line.count <= 160, "too wide: \(line)") }
        let smallHeader = try #require(small.first { $0.hasPrefix("WORKER") })
        let largeHeader = try #require(large.first { $0.hasPrefix("WORKER") })
        for column in ["STEPS/S", "VERSION", "CHUNKS", "PEER"] {
            #expect(!smallHeader.contains(column) && largeHeader.contains(column), "\(column)")
        }
        let rows = { (lines: [String]) in lines.filter { $0.hasPrefix("rig-") || $0.hasPrefix("extra-") }.count }
        #expect(rows(large) == 23 && rows(small) < 23)
        #expect(small.contains { $0.hasPrefix("… ") && $0.contains("more") })
        // Every lag row of the histogram, on both.
        #expect(large.filter { $0.contains("│") }.count == 8)
    }
}

/// `tributary status` and `tributary workers` as text.
@Suite struct StatusTextTests {
    @Test func statusFitsEightyColumnsAndShowsReturnLossesAndGroupedNumbers() throws {
        var s = try TopViewTests.recorded()
        s.training.loss = -0.0123
        s.training.entropy = 0.512
        s.training.evalMeanReturn = 480.5
        s.training.bestEvalReturn = 500
        s.training.evalUpdate = 600
        var refused = Tributary_V1_RefusedPeer()
        (refused.workerID, refused.host, refused.peerAddress, refused.code, refused.detail, refused.count) =
            ("rig-9", "gpu-box-7", "10.0.0.9:51234", "env_mismatch", "this learner trains CartPole-v1; the worker runs Acrobot-v1", 3)
        s.refused = [refused]
        let text = StatusFormatter.text(s)
        for line in text.split(separator: "\n") { #expect(line.count <= 80, "too wide: \(line)") }
        #expect(text.contains("return     278.2 mean of last 100 episodes (5,034 done)"), "\(text)")
        #expect(text.contains("evaluated 480.5 ± 0.0 at update 600, best 500.0"), "\(text)")
        #expect(text.contains("entropy    0.512"), "\(text)")
        #expect(text.contains("env steps  350,720 at 66k/s"), "\(text)")
        #expect(text.contains("lag        p50 5  p90 5  p99 6  max 7  mean 4.5"), "\(text)")
        #expect(text.contains("1 refused (tributary workers)"), "\(text)")
        let table = StatusFormatter.workerTable(s.workers, refused: s.refused, width: 200).joined(separator: "\n")
        #expect(table.contains("REFUSED"))
        let row = try #require(table.split(separator: "\n").first { $0.hasPrefix("rig-9") })
        #expect(row.contains("gpu-box-7") && row.contains("10.0.0.9:51234") && row.contains("env_mismatch: this learner trains"), "\(row)")
    }

    /// A group-relative run: the success rate with three decimals, and a groups line.
    @Test func aGroupRunShowsItsGroupsAndSuccessRate() throws {
        var s = try TopViewTests.recorded()
        s.meanReturn100 = 0.953
        s.training.groups = 64
        s.training.zeroAdvantageGroupFraction = 0.25
        (s.training.rewardMean, s.training.rewardStd, s.training.maskedFraction) = (0.5, 0.5, 0.031)
        let text = StatusFormatter.text(s)
        for line in text.split(separator: "\n") { #expect(line.count <= 80, "too wide: \(line)") }
        #expect(text.contains("return     0.953 mean of last 100"), "\(text)")
        #expect(text.contains("groups     64 in the last batch, 25 % without signal   return 0.500 ± 0.500"), "\(text)")
        #expect(text.contains("masked 3.1 %"), "\(text)")
        #expect(!text.contains("lag split"), "no split without arrival versions: \(text)")
        (s.accounting.groupsTrained, s.accounting.groupsTimedOut) = (12_345, 3)
        var inFlight = LagHistogram(), inQueue = LagHistogram()
        inFlight.add(lag: 10, count: 90)
        inFlight.add(lag: 11, count: 10)
        inQueue.add(lag: 1, count: 100)
        (s.trainedInFlightLag, s.trainedInQueueLag) = (.init(inFlight), .init(inQueue))
        let split = StatusFormatter.text(s)
        for line in split.split(separator: "\n") { #expect(line.count <= 80, "too wide: \(line)") }
        #expect(split.contains("12,345 complete groups trained, 3 partial ones timed out"), "\(split)")
        #expect(split.contains("lag split  in flight p50 10 p99 11 mean 10.1   in queue p50 1 p99 1 mean 1.0"), "\(split)")
        let top = TopView.render(s, columns: 100, rows: 40).joined(separator: "\n")
        #expect(top.contains("lag     in flight p50 10") && top.contains("groups 12,345 trained, 3 timed out"), "\(top)")
    }

    @Test func lagsBeyond64AreNumbersInEveryView() throws {
        var s = try TopViewTests.recorded()
        var h = LagHistogram()
        h.add(lag: 40, count: 10)
        h.add(lag: 130, count: 80)
        h.add(lag: 517, count: 10)
        s.trainedLag = .init(h)
        let text = StatusFormatter.text(s)
        #expect(text.contains("p50 159  p90 159  p99 517  max 517"), "\(text)")
        let view = StalenessView.histogram("trained", h).joined(separator: "\n")
        #expect(view.contains("128–159 │") && view.contains("512–517 │") && !view.contains("+"), "\(view)")
        let report = StalenessReport.Histogram(s.trainedLag)
        #expect(report.p50 == 159 && report.max == 517 && report.lowerBounds.last == 512)
    }
}
