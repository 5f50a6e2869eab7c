import Foundation
import Monitor
import Testing

extension Integration {
    /// `tributary plot` on a small metrics.jsonl written here: RunPlots in-process, then the real
    /// executable for its output and exit codes.
    @Suite struct PlotTests {
        static let fixture = """
        {"update":0,"policy_version":1,"time_s":0.1,"env_steps":512,"sps":5120,"episodes":0,"episodic_return_mean100":null,"lag_min":0,"lag_mean":0,"lag_max":0,"buffer":{"received":1,"trained":1,"dropped":{},"buffered":0,"training_uses":1}}
        {"update":10,"policy_version":11,"time_s":0.6,"env_steps":6144,"sps":10240,"episodes":40,"episodic_return_mean100":21.5,"lag_min":1,"lag_mean":2.5,"lag_max":4,"approx_kl":0.01}
        {"update":20,"policy_version":21,"time_s":1.1,"env_steps":11776,"sps":10705,"episodes":90,"episodic_return_mean100":35,"lag_min":1,"lag_mean":2,"lag_max":3,"updates_per_second":18.2}
        this line is not JSON
        {"update":30,"policy_version":31,"time_s":1.6,"env_steps":17408,"sps":10880,"episodes":130,"episodic_return_mean100":"n/a","lag_min":true,"lag_mean":2,"lag_max":2}
        {"update":40,"policy_version":41,"time_s":2.1,"env_steps":23040,"sps":10971,"episodes":170,"episodic_return_mean100":60.25,"lag_min":1,"lag_mean

        """

        static func runDirectory(metrics: String = fixture, config: Bool = true) throws -> URL {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("plot-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try Data(metrics.utf8).write(to: dir.appendingPathComponent("metrics.jsonl"))
            if config {
                try Data(#"{"run_id":"run-fixture","env_id":"CartPole-v1","target_return":475}"#.utf8).write(to: dir.appendingPathComponent("config.json"))
            }
            return dir
        }

        @Test func metricsAreReadTolerantlyAndMalformedLinesCounted() {
            let m = RunPlots.readMetrics(Data(Self.fixture.utf8))
            #expect(m.records.count == 4)
            #expect(m.skippedLines == 2, "the non-JSON line and the one cut off mid-write")
            #expect(m.records[0].returnMean100.isNaN, "null is a gap")
            #expect(m.records[1].returnMean100 == 21.5 && m.records[1].lagMean == 2.5 && m.records[1].envSteps == 6144)
            #expect(m.records[3].returnMean100.isNaN, "a string where a number belongs is a gap too")
            #expect(m.records[3].update == 30)
            // 0 and 1 are numbers (Linux's JSONSerialization also calls them Bool); true is not.
            #expect(m.records[0].update == 0 && m.records[0].lagMax == 0 && m.records[1].lagMin == 1)
            #expect(m.records[3].lagMin.isNaN, "a boolean is not a lag")
        }

        @Test func runPlotsWritesSixPicturesIntoPlots() throws {
            let dir = try Self.runDirectory()
            defer { try? FileManager.default.removeItem(at: dir) }
            let written = try RunPlots.write(runDirectory: dir.path, width: 640, height: 400)
            let names = ["return.svg", "return.png", "sps.svg", "sps.png", "staleness.svg", "staleness.png"]
            #expect(written.files == names.map { dir.appendingPathComponent("plots").appendingPathComponent($0).path })
            #expect(written.records == 4 && written.skippedLines == 2)
            for file in written.files {
                let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
                if file.hasSuffix(".png") {
                    #expect(Array(bytes.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
                    #expect(bytes[16..<24].elementsEqual([0, 0, 2, 128, 0, 0, 1, 144]), "IHDR 640×400")
                } else {
                    let svg = String(decoding: bytes, as: UTF8.self)
                    #expect(svg.hasPrefix("<?xml") && svg.hasSuffix("</svg>\n"))
                }
            }
            let learning = String(decoding: try Data(contentsOf: URL(fileURLWithPath: written.files[0])), as: UTF8.self)
            #expect(learning.contains(">target 475<") && learning.contains(">env steps<") && learning.contains("CartPole-v1"))
            let staleness = String(decoding: try Data(contentsOf: URL(fileURLWithPath: written.files[4])), as: UTF8.self)
            #expect(staleness.components(separatedBy: "class=\"series\"").count - 1 == 3)
        }

        @Test func missingOrEmptyInputIsAnErrorNotACrash() throws {
            #expect(throws: RunPlots.Failure.missingDirectory("/nonexistent/run")) {
                try RunPlots.write(runDirectory: "/nonexistent/run")
            }
            let empty = try Self.runDirectory(metrics: "", config: false)
            defer { try? FileManager.default.removeItem(at: empty) }
            #expect(throws: RunPlots.Failure.noRecords(empty.appendingPathComponent("metrics.jsonl").path, skipped: 0)) {
                try RunPlots.write(runDirectory: empty.path)
            }
            try FileManager.default.removeItem(at: empty.appendingPathComponent("metrics.jsonl"))
            #expect(throws: RunPlots.Failure.missingMetrics(empty.path)) { try RunPlots.write(runDirectory: empty.path) }
        }

        @Test func theCommandPrintsTheFilesAndExits2OnBadInput() throws {
            let dir = try Self.runDirectory()
            defer { try? FileManager.default.removeItem(at: dir) }
            let out = dir.appendingPathComponent("elsewhere").path
            let ok = try ManagedProcess("tributary", ["plot", dir.path, "--out", out, "--json"])
            #expect(ok.waitExit(timeout: 30) == 0, "\(ok.stderr)")
            let reply = try JSONSerialization.jsonObject(with: Data(ok.stdoutLines.joined().utf8)) as? [String: Any]
            #expect((reply?["files"] as? [String])?.count == 6)
            #expect((reply?["files"] as? [String])?.allSatisfy { $0.hasPrefix(out + "/") && FileManager.default.fileExists(atPath: $0) } == true)
            #expect(reply?["skipped_lines"] as? Int == 2)
            #expect(ok.stderr.contains("skipped 2 malformed line(s)"), "\(ok.stderr)")

            let missing = try ManagedProcess("tributary", ["plot", dir.appendingPathComponent("nope").path])
            #expect(missing.waitExit(timeout: 30) == 2)
            #expect(missing.stderr.hasPrefix("tributary plot: ") && missing.stderr.contains("no such run directory"), "\(missing.stderr)")
            #expect(missing.stderr.split(separator: "\n").count == 1)
        }
    }
}
