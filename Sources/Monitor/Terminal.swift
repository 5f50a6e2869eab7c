#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Protocol
import SafeIO

/// The terminal as `tributary top` uses it: raw keys (no echo, no line buffering, Ctrl-C as a
/// key so the screen is always restored), the alternate screen, and its size.
public final class Terminal {
    private var saved = termios()
    private var active = false

    public init() {}

    /// Whether stdin and stdout are both a terminal (a live view needs both).
    public static var isInteractive: Bool { isatty(STDIN_FILENO) == 1 && isatty(STDOUT_FILENO) == 1 }

    /// Columns and rows of stdout's terminal (80×24 when unknown).
    /// The width a one-shot view is drawn in: the terminal's when stdout is one (at least 80),
    /// otherwise `piped` (80, or unbounded for a table whose cut-off text matters).
    public static func outputWidth(piped: Int = 80) -> Int {
        isatty(STDOUT_FILENO) == 1 ? max(80, size.columns) : piped
    }

    public static var size: (columns: Int, rows: Int) {
        var w = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &w) == 0, w.ws_col > 0, w.ws_row > 0 else { return (80, 24) }
        return (Int(w.ws_col), Int(w.ws_row))
    }

    public func enter() {
        guard !active, tcgetattr(STDIN_FILENO, &saved) == 0 else { return }
        var raw = saved
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO | ISIG)
        raw.c_cc.6 = 0  // VMIN: reads return at once
        raw.c_cc.5 = 0  // VTIME
        tcsetattr(STDIN_FILENO, TCSANOW, &raw)
        active = true
        write("\u{1B}[?1049h\u{1B}[?25l")  // alternate screen, cursor hidden
    }

    public func leave() {
        guard active else { return }
        write("\u{1B}[?25h\u{1B}[?1049l")
        tcsetattr(STDIN_FILENO, TCSANOW, &saved)
        active = false
    }

    /// Draws a frame from the top-left corner, clearing what each line leaves.
    public func draw(_ lines: [String]) {
        write("\u{1B}[H" + lines.map { $0 + "\u{1B}[K" }.joined(separator: "\r\n") + "\u{1B}[J")
    }

    /// A live view (`top`, `staleness --watch`): takes over the screen, draws `frame(status,
    /// stale)` every `interval` with a freshly fetched status until a key asks to quit, and
    /// gives the screen back. A refresh that fails keeps the last status and passes why as
    /// `stale` ("stale: …"), so the view says it is not moving; q still quits.
    public static func live<Status>(every interval: Duration, first: Status, fetch: () async throws -> Status,
                                    frame: (Status, _ stale: String?) -> [String]) async throws {
        var status = first
        var stale: String?
        let terminal = Terminal()
        terminal.enter()
        defer { terminal.leave() }
        while true {
            terminal.draw(frame(status, stale))
            if terminal.waitForQuit(timeout: interval) { return }
            do {
                status = try await fetch()
                stale = nil
            } catch let failure as StatusClient.Failure {
                stale = "stale: \(failure.description)"
            }
        }
    }

    /// Waits up to `timeout` for a key; true when it asks to quit (q, Q, Ctrl-C, Ctrl-D, Esc).
    public func waitForQuit(timeout: Duration) -> Bool {
        var fds = pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)
        let ms = Int32(clamping: max(0, timeout.milliseconds))
        guard poll(&fds, 1, ms) > 0 else { return false }
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = read(STDIN_FILENO, &buffer, buffer.count)
        guard n > 0 else { return n == 0 }  // end of input quits too
        // Esc alone quits; Esc starting a sequence (an arrow key) does not.
        if n == 1, buffer[0] == 27 { return true }
        return buffer[..<n].contains { [UInt8(ascii: "q"), UInt8(ascii: "Q"), 3, 4].contains($0) }
    }

    private func write(_ s: String) {
        StandardStream.output.write(s)
    }

    deinit { leave() }
}
