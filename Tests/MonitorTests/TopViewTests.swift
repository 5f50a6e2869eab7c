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
        #expect(screen.contains("received 1370 = trained 1364 + dropped 0 + buffered 6"))
        #expect(screen.contains("staleness (trained): 349,184 samples   p50 5  p90 5  p99 6  max 7"), "\(screen)")
    }

    @Test func showsARowPerWorkerWithRatesAndWhyOneLeft() throws {
        let lines = TopView.render(try Self.recorded(), columns: 80, rows: 24)
        let rows = lines.filter { $0.hasPrefix("rig-") }
        #expect(rows.count == 3)
        let live = try #require(rows.first { $0.hasPrefix("rig-0") })
        #expect(live.contains("119.7") && live.hasSuffix("ok"), "\(live)")
        let gone = try #require(rows.first { $0.hasPrefix("rig-2") })
        #expect(gone.contains("gone: expir"), "\(gone)")
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
}
