import Domain
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Protocol
import Testing
import TestSupport
@testable import Telemetry

@Suite struct RateAndProgressTests {
    @Test func rateMeterMeasuresOverItsWindowAndFallsWhenTheTotalStops() {
        var meter = RateMeter(window: .seconds(5))
        let t0 = ContinuousClock.now
        #expect(meter.perSecond == 0)
        for i in 0...10 { meter.sample(UInt64(i * 100), at: t0 + .milliseconds(500 * i)) }  // 200/s
        #expect(abs(meter.perSecond - 200) < 1e-9)
        // The total stops growing: once the window has slid past the growth the rate is 0.
        for i in 11...30 { meter.sample(1000, at: t0 + .milliseconds(500 * i)) }
        #expect(meter.perSecond == 0)
    }

    @Test func etaFollowsTheSlopeAndIsUnknownWhenNotRising() {
        var eta = ETAEstimator(window: .seconds(10))
        let t0 = ContinuousClock.now
        eta.sample(0.2, at: t0)
        eta.sample(0.4, at: t0 + .seconds(2))  // 0.1 per second → 6 s for the remaining 0.6
        #expect(abs(eta.remaining!.components.seconds * 1000 + eta.remaining!.components.attoseconds / 1_000_000_000_000_000 - 6000) <= 1)
        var flat = ETAEstimator()
        flat.sample(0.5, at: t0)
        flat.sample(0.4, at: t0 + .seconds(1))
        #expect(flat.remaining == nil)
    }

    @Test func returnProgressRunsFromTheFirstReturnToTheTarget() {
        var p = ReturnProgress(target: 500)
        #expect(p.fraction(meanReturn: 0, episodes: 0) == nil)  // no episode yet: no start either
        #expect(p.fraction(meanReturn: 100, episodes: 3) == 0)
        #expect(p.fraction(meanReturn: 300, episodes: 9) == 0.5)
        #expect(p.fraction(meanReturn: 50, episodes: 12) == 0)  // below the start: not negative
        #expect(p.fraction(meanReturn: 500, episodes: 20) == 1)
    }

    @Test func aTerminalGetsABarRedrawnInPlaceAndALogGetsPlainLinesNowAndThen() throws {
        var tty = ProgressLine(isTerminal: true, width: 80)
        let t0 = ContinuousClock.now
        _ = tty.render(fraction: 0.25, rate: "1,000 steps/s", detail: "return 120", now: t0)
        let rendered = tty.render(fraction: 0.5, rate: "1,000 steps/s", detail: "return 240", now: t0 + .seconds(1))
        let line = try #require(rendered)
        #expect(line.hasPrefix("\r\u{1B}[K["))
        #expect(line.contains(" 50%") && line.contains("ETA 2 s") && line.contains("return 240"), "\(line)")
        #expect(line.count <= 80 + 4)
        // The demo's detail at 80 columns: whole fields are left out from the end, no number cut.
        let detail = "return 487.3/475  steps 12,345,678  version 123,456  lag 55.3/64  workers 16"
        let fittedLine = tty.render(fraction: 0.97, rate: "1,234,567 steps/s", detail: detail, now: t0 + .seconds(2))
        let fitted = try #require(fittedLine)
        let visible = String(fitted.dropFirst("\r\u{1B}[K".count))
        #expect(visible.count <= 79, "\(visible)")
        #expect(visible.hasSuffix("return 487.3/475") || visible.hasSuffix("12,345,678") || visible.hasSuffix("123,456"), "\(visible)")
        var wide = ProgressLine(isTerminal: true, width: 200)
        let allLine = wide.render(fraction: 0.97, rate: "1,234,567 steps/s", detail: detail, now: t0)
        let all = try #require(allLine)
        #expect(all.hasSuffix("workers 16"))

        var plain = ProgressLine(isTerminal: false, plainInterval: .seconds(5))
        let firstLine = plain.render(fraction: nil, rate: "10 steps/s", detail: "x", now: t0)
        let first = try #require(firstLine)
        #expect(first == "10 steps/s  x\n")
        let tooSoon = plain.render(fraction: nil, rate: "10 steps/s", detail: "x", now: t0 + .seconds(1))
        #expect(tooSoon == nil)
        let later = plain.render(fraction: nil, rate: "10 steps/s", detail: "x", now: t0 + .seconds(6))
        #expect(later != nil)
    }
}

@Suite struct LearnerMetricsTests {
    /// promtool's first complaint: every family needs a HELP line before its TYPE, with text.
    @Test func everyFamilyHasHelpAndTheProcessIsThere() {
        let metrics = LearnerMetrics()
        metrics.update(from: Self.status())
        metrics.record(update: [("loss", 1.5), ("entropy", 0.6), ("ess", 0.9)], correction: "vtrace")
        let lines = metrics.exposition().split(separator: "\n").map(String.init)
        for (i, line) in lines.enumerated() where line.hasPrefix("# TYPE ") {
            let name = line.split(separator: " ")[2]
            #expect(i > 0 && lines[i - 1].hasPrefix("# HELP \(name) ") && lines[i - 1].count > "# HELP \(name) ".count + 10, "\(name)")
            #expect(!lines[i - 1].contains("Tributary learner metric \(name)"), "\(name) has only the fallback help")
        }
        for name in ["process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds", "tributary_start_time_seconds"] {
            #expect(lines.contains { $0.hasPrefix("\(name) ") }, "\(name)")
        }
        #expect(!lines.contains { $0.contains("_per_second") }, "rates are PromQL's")
        #expect(lines.contains("tributary_buffer_dropped_chunks_total{reason=\"group_timeout\"} 0"), "a reason that never happened is there, at 0")
    }

    static func status() -> Tributary_V1_StatusReply {
        var s = Tributary_V1_StatusReply()
        s.runID = "run-t"
        s.policyVersion = 12
        s.updates = 11
        s.stepsReceived = 5000
        s.accounting.received = 10
        s.accounting.trained = 6
        s.accounting.dropped = ["stale": 3]
        s.accounting.buffered = 1
        var lags = LagHistogram()
        lags.add(lag: 0, count: 5)
        lags.add(lag: 2, count: 2)
        lags.add(lag: 70, count: 4)
        lags.add(lag: 300, count: 1)
        s.trainedLag = .init(lags)
        return s
    }

    @Test func countersFollowTheStatusAndOnlyEverGoUp() throws {
        let metrics = LearnerMetrics()
        var s = Self.status()
        metrics.update(from: s)
        var text = metrics.exposition()
        var samples = try PrometheusText.parse(text)
        #expect(samples["tributary_buffer_received_chunks_total"] == 10)
        #expect(samples["tributary_buffer_dropped_chunks_total{reason=\"stale\"}"] == 3)
        #expect(samples["tributary_env_steps_total"] == 5000)
        s.accounting.received = 25
        s.stepsReceived = 9000
        metrics.update(from: s)
        text = metrics.exposition()
        samples = try PrometheusText.parse(text)
        #expect(samples["tributary_buffer_received_chunks_total"] == 25)
        #expect(samples["tributary_env_steps_total"] == 9000)
        #expect(text.contains("# TYPE tributary_env_steps_total counter"))
        #expect(text.contains("# TYPE tributary_policy_version gauge"))
    }

    @Test func theStalenessHistogramIsCumulativeWithExactBoundsAndSum() throws {
        let metrics = LearnerMetrics()
        metrics.update(from: Self.status())
        let samples = try PrometheusText.parse(metrics.exposition())
        let h = "tributary_trained_staleness_versions"
        #expect(samples[h + "_bucket{le=\"0\"}"] == 5)
        #expect(samples[h + "_bucket{le=\"1\"}"] == 5)
        #expect(samples[h + "_bucket{le=\"2\"}"] == 7)
        #expect(samples[h + "_bucket{le=\"63\"}"] == 7)
        #expect(samples[h + "_bucket{le=\"95\"}"] == 11)  // lag 70 is in the buffer's 64–79 bucket
        #expect(samples[h + "_bucket{le=\"255\"}"] == 11)
        #expect(samples[h + "_bucket{le=\"511\"}"] == 12)
        #expect(samples[h + "_bucket{le=\"+Inf\"}"] == 12)
        #expect(samples[h + "_count"] == 12)
        #expect(samples[h + "_sum"] == 584.0)  // exact: 2 × 2 + 4 × 70 + 300
    }

    @Test func updateScalarsBecomeGaugesLabelledWithTheCorrection() throws {
        let metrics = LearnerMetrics()
        metrics.record(update: [("loss", 0.5), ("entropy", 0.6), ("clipped_fraction", 0.1), ("ess", 0.9), ("unknown_key", 7)],
                       correction: "ppo")
        let samples = try PrometheusText.parse(metrics.exposition())
        #expect(samples["tributary_loss{term=\"total\"}"] == 0.5)
        #expect(samples["tributary_policy_entropy"] == 0.6)
        #expect(samples["tributary_correction_clipped_fraction{correction=\"ppo\"}"] == 0.1)
        #expect(samples["tributary_correction_ess{correction=\"ppo\"}"] == 0.9)
        #expect(!samples.keys.contains { $0.contains("unknown") })
    }
}

@Suite struct MetricsServerTests {
    static func get(_ url: String) async throws -> (Int, String) {
        let (data, response) = try await URLSession.shared.data(from: URL(string: url)!)
        return ((response as! HTTPURLResponse).statusCode, String(decoding: data, as: UTF8.self))
    }

    @Test func servesMetricsAndHealthOverHTTP() async throws {
        let metrics = LearnerMetrics()
        metrics.update(from: LearnerMetricsTests.status())
        let healthy = HealthFlag()
        let server = try await MetricsServer(host: "127.0.0.1", port: 0, render: { metrics.exposition() },
                                             health: { .init(healthy: healthy.value, fields: ["run_id": "run-t", "uptime_s": .number(1.5), "workers_connected": .number(3)]) })
        #expect(server.url.hasPrefix("http://127.0.0.1:") && !server.url.hasSuffix(":0"))
        let (code, body) = try await Self.get(server.url + "/metrics")
        #expect(code == 200)
        #expect(try PrometheusText.parse(body)["tributary_buffer_received_chunks_total"] == 10)
        let (okCode, okBody) = try await Self.get(server.url + "/healthz")
        #expect(okCode == 200 && okBody.contains("\"status\":\"ok\""), "\(okBody)")
        #expect(okBody.contains("\"uptime_s\":1.5") && okBody.contains("\"workers_connected\":3"), "numbers as JSON numbers: \(okBody)")
        let (indexCode, index) = try await Self.get(server.url + "/")
        #expect(indexCode == 200 && index.contains("/metrics") && index.contains("/healthz"))
        healthy.value = false
        let (badCode, badBody) = try await Self.get(server.url + "/healthz")
        #expect(badCode == 503 && badBody.contains("\"status\":\"unhealthy\""), "\(badBody)")
        let (missing, _) = try await Self.get(server.url + "/nothing")
        #expect(missing == 404)
        await server.stop()
    }

    @Test func onlyNumericAddressesAreAccepted() {
        #expect(MetricsServer.isNumericAddress("127.0.0.1") && MetricsServer.isNumericAddress("0.0.0.0"))
        #expect(MetricsServer.isNumericAddress("::1") && MetricsServer.isNumericAddress("::"))
        #expect(!MetricsServer.isNumericAddress("lo") && !MetricsServer.isNumericAddress("localhost") && !MetricsServer.isNumericAddress(""))
    }

    @Test func aTakenPortIsAClearErrorNotAHang() async throws {
        let first = try await MetricsServer(host: "127.0.0.1", port: 0, render: { "" }, health: { .init(healthy: true, fields: [:]) })
        let port = UInt16(first.url.split(separator: ":").last!)!
        await #expect(throws: MetricsServer.Failure.self) {
            _ = try await MetricsServer(host: "127.0.0.1", port: port, render: { "" }, health: { .init(healthy: true, fields: [:]) })
        }
        await first.stop()
    }
}

final class HealthFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var _value = true
    var value: Bool {
        get { lock.withLock { _value } }
        set { lock.withLock { _value = newValue } }
    }
}
