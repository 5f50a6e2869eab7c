import Foundation

/// The standard `process_*` metrics of Prometheus's client libraries, read from /proc/self:
/// CPU seconds, resident and virtual memory, open and allowed file descriptors, start time.
public struct ProcessMetrics: Sendable, Equatable {
    public var cpuSeconds: Double
    public var residentBytes: Double
    public var virtualBytes: Double
    public var openFDs: Double
    public var maxFDs: Double
    public var startTimeSeconds: Double

    /// This process's; zeros where /proc cannot be read.
    public static func read() -> ProcessMetrics {
        var m = ProcessMetrics(cpuSeconds: 0, residentBytes: 0, virtualBytes: 0, openFDs: 0, maxFDs: 0, startTimeSeconds: 0)
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let page = Double(sysconf(Int32(_SC_PAGESIZE)))
        // /proc/self/stat: the fields after the command's closing parenthesis, from field 3 (state).
        if let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") {
            let f = stat[stat.index(after: close)...].split(separator: " ").map(String.init)
            // utime 14, stime 15, starttime 22, vsize 23, rss 24 (1-based) → f[11], f[12], f[19], f[20], f[21].
            if f.count > 21 {
                m.cpuSeconds = ((Double(f[11]) ?? 0) + (Double(f[12]) ?? 0)) / ticks
                m.virtualBytes = Double(f[20]) ?? 0
                m.residentBytes = (Double(f[21]) ?? 0) * page
                if let boot = Self.bootTime() { m.startTimeSeconds = boot + (Double(f[19]) ?? 0) / ticks }
            }
        }
        m.openFDs = Double((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0)
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 { m.maxFDs = Double(limit.rlim_cur) }
        return m
    }

    static func bootTime() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return nil }
        return text.split(separator: "\n").first { $0.hasPrefix("btime ") }.flatMap { Double($0.dropFirst(6)) }
    }

    /// In the text exposition format.
    public func exposition() -> String {
        func metric(_ name: String, _ type: String, _ help: String, _ value: Double) -> String {
            "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(value)\n"
        }
        return metric("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.", cpuSeconds)
            + metric("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", residentBytes)
            + metric("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", virtualBytes)
            + metric("process_open_fds", "gauge", "Number of open file descriptors.", openFDs)
            + metric("process_max_fds", "gauge", "Maximum number of open file descriptors.", maxFDs)
            + metric("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.", startTimeSeconds)
    }
}
