import BuildInfo
import CoreMetrics
import Domain
import Experience
import Foundation
import Prometheus
import Protocol
import Locking

/// The learner's Prometheus metrics: every counter of the status reply and the buffer's
/// accounting identity, the staleness histograms, and the latest update's losses and
/// correction statistics. Names are listed in docs/operations.md.
///
/// Counters and gauges go through swift-metrics with swift-prometheus's factory (one registry
/// per instance, so tests and several learners in one process stay apart). They are brought up
/// to date from the same `StatusReply` that `tributary status` shows, when a scrape arrives,
/// so `/metrics` and the CLI can never disagree about what happened.
///
/// The two staleness histograms are the exception: the buffer already keeps exact per-sample
/// counts by lag (millions of samples a second), which swift-prometheus's `Histogram` could only
/// take one `record` call per sample. They are written as a constant histogram in the
/// exposition format instead, like Go's `MustNewConstHistogram` or Python's
/// `HistogramMetricFamily` for pre-aggregated data.
public final class LearnerMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory
    private struct State {
        /// What each counter was brought up to last (counters only go up, by the difference).
        var exported: [String: UInt64] = [:]
        var counters: [String: CoreMetrics.Counter] = [:]
        var gauges: [String: CoreMetrics.Gauge] = [:]
        var trainedLag = LagHistogram()
        var droppedLag = LagHistogram()
        var inFlightLag = LagHistogram()
        var inQueueLag = LagHistogram()
        /// When the learner started (Unix seconds).
        var startTime = Date().timeIntervalSince1970
    }
    private let state = Mutex(State())

    /// Upper bounds (`le`) of the staleness histograms' buckets, in versions. Each is the top of
    /// one of the buffer's buckets (exact below 64, four per power of two above), so every
    /// cumulative count is exact.
    public static let lagBuckets: [UInt64] = [0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 63, 95, 127, 191, 255, 511, 1023, 2047, 4095]
    /// Why the trainer skips an update (`tributary_updates_skipped_total{reason}`).
    public static let skipReasons = ["non_finite_loss", "non_finite_gradient", "non_finite_parameters"]
    /// Why worker incarnations leave (`tributary_workers_left_total{reason}`).
    public static let leaveReasons = ["expired", "goodbye", "replaced", "disconnected"]
    /// Kinds of failed handshakes (`tributary_transport_handshakes_failed_total{kind}`).
    public static let handshakeFailures = ["auth", "protocol", "other"]

    /// `startTime`: when the learner started (Unix seconds), for `tributary_start_time_seconds`.
    public init(startTime: Double = Date().timeIntervalSince1970) {
        state.withLock { $0.startTime = startTime }
        registry = PrometheusCollectorRegistry()
        factory = PrometheusMetricsFactory(registry: registry)
    }

    // MARK: - Updating

    /// Brings every status-derived metric up to `s` (call just before rendering).
    public func update(from s: Tributary_V1_StatusReply) {
        state.withLock { st in
            func count(_ name: String, _ value: UInt64, _ labels: [(String, String)] = []) {
                let key = Self.key(name, labels)
                let counter = st.counters[key] ?? CoreMetrics.Counter(label: name, dimensions: labels, factory: factory)
                st.counters[key] = counter
                let before = st.exported[key] ?? 0
                if value > before { counter.increment(by: Int64(value - before)) }
                st.exported[key] = max(before, value)
            }
            func gauge(_ name: String, _ value: Double, _ labels: [(String, String)] = []) {
                Self.gauge(&st.gauges, factory, name, labels).record(value)
            }
            gauge("tributary_info", 1, [("run_id", s.runID), ("correction", s.buffer.correction),
                                        ("protocol_version", String(s.protocolVersion)), ("version", BuildInfo.describe)])
            gauge("tributary_uptime_seconds", Double(s.uptimeMs) / 1000)
            gauge("tributary_start_time_seconds", st.startTime)
            gauge("tributary_policy_version", Double(s.policyVersion))
            gauge("tributary_workers_connected", Double(s.workersConnected))
            count("tributary_workers_expired_total", s.workersExpired)
            for reason in Self.leaveReasons { count("tributary_workers_left_total", s.workersLeft[reason] ?? 0, [("reason", reason)]) }
            count("tributary_messages_received_total", s.messagesReceived)
            count("tributary_received_bytes_total", s.bytesReceived)
            count("tributary_chunks_accepted_total", s.chunksAccepted)
            // Every reason exists from the start (0 until it happens), so rate() over it works.
            for code in ProtocolError.Code.all {
                count("tributary_messages_rejected_total", s.rejected[code.name] ?? 0, [("reason", code.name)])
            }
            for reason in Self.skipReasons {
                count("tributary_updates_skipped_total", s.updatesSkipped[reason] ?? 0, [("reason", reason)])
            }
            gauge("tributary_degraded", s.health == "degraded" ? 1 : 0)
            count("tributary_episodes_unverified_total", s.episodesUnverified)
            count("tributary_transport_connections_accepted_total", s.transport.connectionsAccepted)
            count("tributary_transport_connections_closed_total", s.transport.connectionsClosed)
            for kind in Self.handshakeFailures {
                count("tributary_transport_handshakes_failed_total", s.transport.handshakesFailed[kind] ?? 0, [("kind", kind)])
            }
            count("tributary_transport_messages_truncated_total", s.transport.messagesTruncated)
            gauge("tributary_admission_max_workers", Double(s.admission.maxWorkers))
            gauge("tributary_admission_memory_budget_bytes", Double(s.admission.memoryBudgetBytes))
            gauge("tributary_admission_memory_held_bytes", Double(s.admission.memoryHeldBytes))
            gauge("tributary_admission_credits_in_flight", Double(s.admission.creditsInFlight))
            count("tributary_env_steps_total", s.stepsReceived)
            count("tributary_updates_total", s.updates)
            count("tributary_episodes_total", s.episodes)
            // Rates are PromQL's: rate(tributary_env_steps_total[1m]), rate(tributary_updates_total[1m]).
            if s.episodes > 0 { gauge("tributary_episodic_return_mean100", s.meanReturn100) }
            // The accounting identity: received = trained + Σ dropped + buffered (chunks).
            let a = s.accounting
            count("tributary_buffer_received_chunks_total", a.received)
            count("tributary_buffer_trained_chunks_total", a.trained)
            // Every reason and exit exists from the first scrape (0 until it happens).
            for reason in Set(DropReason.allCases.map(\.rawValue)).union(a.dropped.keys).sorted() {
                count("tributary_buffer_dropped_chunks_total", a.dropped[reason] ?? 0, [("reason", reason)])
            }
            for exit in Set(ExitReason.allCases.map(\.rawValue)).union(a.trainedExits.keys).sorted() {
                count("tributary_buffer_trained_exits_total", a.trainedExits[exit] ?? 0, [("exit", exit)])
            }
            gauge("tributary_buffer_chunks", Double(a.buffered))
            gauge("tributary_buffer_columns", Double(s.bufferedColumns))
            count("tributary_buffer_training_uses_total", a.trainingUses)
            count("tributary_buffer_inserted_columns_total", a.insertedColumns)
            count("tributary_buffer_sampled_columns_total", a.sampledColumns)
            let b = s.buffer
            gauge("tributary_buffer_capacity_chunks", Double(b.capacityChunks))
            // The bound in force: the fixed --eta, or where the lag target has moved it.
            if let eta = b.etaInForce { gauge("tributary_buffer_eta_versions", Double(eta)) }
            if b.hasLagTarget { gauge("tributary_buffer_lag_target_versions", b.lagTarget) }
            if b.hasMaxLag { gauge("tributary_buffer_max_lag_versions", Double(b.maxLag)) }
            if s.updates > 0 {
                gauge("tributary_update_lag_min_versions", Double(s.lagMin))
                gauge("tributary_update_lag_mean_versions", s.lagMean)
                gauge("tributary_update_lag_max_versions", Double(s.lagMax))
            }
            st.trainedLag = LagHistogram(s.trainedLag)
            st.droppedLag = LagHistogram(s.droppedLag)
            st.inFlightLag = LagHistogram(s.trainedInFlightLag)
            st.inQueueLag = LagHistogram(s.trainedInQueueLag)
            count("tributary_groups_trained_total", a.groupsTrained)
            count("tributary_groups_timed_out_total", a.groupsTimedOut)
        }
    }

    /// The scalars of one update (losses, entropy, approx KL, the correction's statistics):
    /// each `(name, value)` becomes the gauge `tributary_<name>`, with the correction as a label
    /// on the correction's own statistics. Names are the metrics.jsonl keys.
    public func record(update values: [(name: String, value: Double)], correction: String) {
        state.withLock { st in
            for (name, value) in values where value.isFinite {
                guard let (metric, labels) = Self.updateMetric(name, correction: correction) else { continue }
                Self.gauge(&st.gauges, factory, metric, labels).record(value)
            }
        }
    }

    /// metrics.jsonl key → Prometheus name and labels; nil for keys not exported per update.
    static func updateMetric(_ key: String, correction: String) -> (String, [(String, String)])? {
        switch key {
        case "loss": return ("tributary_loss", [("term", "total")])
        case "policy_loss": return ("tributary_loss", [("term", "policy")])
        case "value_loss": return ("tributary_loss", [("term", "value")])
        case "entropy": return ("tributary_policy_entropy", [])
        case "approx_kl": return ("tributary_approx_kl", [])
        case "clipped_fraction", "dual_clipped_fraction", "truncated_fraction", "masked_fraction", "rho_truncated_fraction":
            return ("tributary_correction_" + key, [("correction", correction)])
        case "ess": return ("tributary_correction_ess", [("correction", correction)])
        case "mean_abs_log_ratio": return ("tributary_correction_mean_abs_log_ratio", [("correction", correction)])
        case "zero_advantage_group_fraction": return ("tributary_group_zero_advantage_fraction", [])
        case "reward_mean": return ("tributary_group_reward_mean", [])
        case "reward_std": return ("tributary_group_reward_std", [])
        default: return nil
        }
    }

    // MARK: - Rendering

    /// The text exposition format (version 0.0.4): the registry's metrics with their HELP lines,
    /// the two staleness histograms, and the process's own `process_*` metrics.
    public func exposition() -> String {
        var text = Self.withHelp(registry.emitToString())
        let (trained, dropped, inFlight, inQueue) = state.withLock { ($0.trainedLag, $0.droppedLag, $0.inFlightLag, $0.inQueueLag) }
        text += Self.histogram("tributary_trained_staleness_versions",
                               help: "Version lag of trained samples (learner version at training minus the version that acted).",
                               trained)
        text += Self.histogram("tributary_dropped_staleness_versions",
                               help: "Version lag of samples dropped unused (stale, evicted, ...).", dropped)
        text += Self.histogram("tributary_trained_in_flight_staleness_versions",
                               help: "In-flight part of trained samples' lag: learner version at arrival minus the version that acted.", inFlight)
        text += Self.histogram("tributary_trained_in_queue_staleness_versions",
                               help: "In-queue part of trained samples' lag: learner version at training minus the version at arrival.", inQueue)
        text += ProcessMetrics.read().exposition()
        return text
    }

    /// swift-metrics has no help text, so swift-prometheus writes none: a HELP line goes in
    /// before each family's TYPE line, from `help`.
    static func withHelp(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count + 4096)
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("# TYPE ") {
                let name = String(line.dropFirst(7).prefix { $0 != " " })
                out += "# HELP \(name) \(help[name] ?? "Tributary learner metric \(name) (docs/operations.md).")\n"
            }
            out += line
            out += "\n"
        }
        if out.hasSuffix("\n\n") { out.removeLast() }
        return out
    }

    /// The help text of every metric the registry exports (docs/operations.md lists them).
    static let help: [String: String] = [
        "tributary_info": "Always 1; the labels say which run and build this is.",
        "tributary_uptime_seconds": "Seconds since the learner started.",
        "tributary_start_time_seconds": "When the learner started, in Unix seconds.",
        "tributary_policy_version": "The newest policy version.",
        "tributary_workers_connected": "Workers with a session now.",
        "tributary_workers_expired_total": "Worker incarnations dropped after silence (--liveness-ms).",
        "tributary_workers_left_total": "Worker incarnations that left, by reason: expired (silence), goodbye, replaced (restarted), disconnected (connection gone).",
        "tributary_messages_received_total": "Messages received on the data socket.",
        "tributary_received_bytes_total": "Bytes of the messages received on the data socket.",
        "tributary_chunks_accepted_total": "Trajectory chunks admitted to the buffer.",
        "tributary_messages_rejected_total": "Messages refused, by Reject code.",
        "tributary_updates_skipped_total": "Updates skipped because the loss, gradient or parameters were not finite.",
        "tributary_degraded": "1 while /healthz reports degraded (updates skipped in a row).",
        "tributary_episodes_unverified_total": "Episode returns reported without the steps to check them.",
        "tributary_transport_connections_accepted_total": "Connections accepted on the learner's sockets.",
        "tributary_transport_connections_closed_total": "Connections closed on the learner's sockets.",
        "tributary_transport_handshakes_failed_total": "Failed ZMTP/CURVE handshakes, by kind.",
        "tributary_transport_messages_truncated_total": "Messages dropped by libzmq for exceeding the size limit.",
        "tributary_admission_max_workers": "Worker sessions admitted at most (--max-workers).",
        "tributary_admission_memory_budget_bytes": "Chunk bytes held at most, all workers together (--memory-budget-bytes).",
        "tributary_admission_memory_held_bytes": "Chunk bytes held now: credits in flight plus the buffer.",
        "tributary_admission_credits_in_flight": "Credits granted and not yet returned.",
        "tributary_env_steps_total": "Environment steps in accepted chunks.",
        "tributary_updates_total": "Optimizer steps.",
        "tributary_episodes_total": "Finished episodes reported by workers.",
        "tributary_episodic_return_mean100": "Mean return of the last 100 finished episodes.",
        "tributary_buffer_received_chunks_total": "Chunks received by the buffer (received = trained + dropped + buffered).",
        "tributary_buffer_trained_chunks_total": "Chunks trained on at least once.",
        "tributary_buffer_dropped_chunks_total": "Chunks dropped unused, by reason.",
        "tributary_buffer_trained_exits_total": "How trained chunks left the buffer, by exit.",
        "tributary_buffer_chunks": "Chunks in the buffer now.",
        "tributary_groups_trained_total": "Group-relative methods: complete groups trained.",
        "tributary_groups_timed_out_total": "Group-relative methods: partial groups dropped after the group timeout.",
        "tributary_buffer_columns": "Environment columns in the buffer now.",
        "tributary_buffer_training_uses_total": "Uses of chunks in updates (more than trained chunks with reuse).",
        "tributary_buffer_inserted_columns_total": "Columns inserted (the sample:insert limiter's insert side).",
        "tributary_buffer_sampled_columns_total": "Columns sampled for updates (the limiter's sample side).",
        "tributary_buffer_capacity_chunks": "Chunks the buffer holds at most (--buffer-capacity).",
        "tributary_buffer_eta_versions": "The staleness bound on admission in force, eta: --eta, or where --lag-target has moved it (absent when unbounded).",
        "tributary_buffer_lag_target_versions": "The mean version lag admission keeps trained samples at (--lag-target), when set.",
        "tributary_buffer_max_lag_versions": "The drop rule's max lag (--max-lag), when set.",
        "tributary_update_lag_min_versions": "Smallest version lag of a sample in the latest update.",
        "tributary_update_lag_mean_versions": "Mean version lag of the samples in the latest update.",
        "tributary_update_lag_max_versions": "Largest version lag of a sample in the latest update.",
        "tributary_loss": "Loss of the latest logged update, by term.",
        "tributary_policy_entropy": "Policy entropy in the latest logged update.",
        "tributary_approx_kl": "Approximate KL between behaviour and current policy in the latest logged update.",
        "tributary_correction_clipped_fraction": "Fraction of samples whose ratio was clipped in the latest logged update.",
        "tributary_correction_dual_clipped_fraction": "Fraction of samples dual-clipped in the latest logged update.",
        "tributary_correction_truncated_fraction": "Fraction of importance weights truncated in the latest logged update.",
        "tributary_correction_masked_fraction": "Fraction of samples masked in the latest logged update.",
        "tributary_correction_rho_truncated_fraction": "Fraction of V-trace rho weights truncated in the latest logged update.",
        "tributary_correction_ess": "Normalised effective sample size of the importance weights in the latest logged update.",
        "tributary_correction_mean_abs_log_ratio": "Mean absolute log ratio of current to behaviour policy in the latest logged update.",
        "tributary_group_zero_advantage_fraction": "Group-relative methods: fraction of the latest logged update's groups whose answers were all rewarded alike.",
        "tributary_group_reward_mean": "Group-relative methods: mean return of the answers in the latest logged update.",
        "tributary_group_reward_std": "Group-relative methods: population std of the answers' returns in the latest logged update.",
    ]

    /// A constant histogram from the buffer's lag histogram (`_sum` exact).
    static func histogram(_ name: String, help: String, _ h: LagHistogram) -> String {
        var lines = ["# HELP \(name) \(help)", "# TYPE \(name) histogram"]
        for bound in lagBuckets {
            lines.append("\(name)_bucket{le=\"\(bound)\"} \(h.cumulative(atMost: bound))")
        }
        lines.append("\(name)_bucket{le=\"+Inf\"} \(h.total)")
        lines.append("\(name)_sum \(h.sum)")
        lines.append("\(name)_count \(h.total)")
        return lines.joined(separator: "\n") + "\n"
    }

    private static func key(_ name: String, _ labels: [(String, String)]) -> String {
        ([name] + labels.map { "\($0.0)=\($0.1)" }).joined(separator: "|")
    }

    private static func gauge(_ gauges: inout [String: CoreMetrics.Gauge], _ factory: PrometheusMetricsFactory,
                              _ name: String, _ labels: [(String, String)]) -> CoreMetrics.Gauge {
        let key = key(name, labels)
        if let g = gauges[key] { return g }
        let g = CoreMetrics.Gauge(label: name, dimensions: labels, factory: factory)
        gauges[key] = g
        return g
    }
}
