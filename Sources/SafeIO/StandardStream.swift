import Foundation

/// Standard output and error as `AppendOnlyFile`s: a line goes out in one write(2), lines from
/// several threads never interleave, and a closed pipe or a full disk is counted, never a trap
/// (`FileHandle.write` traps on any error, which took a learner down with the reader of its
/// events). Processes that write here ignore SIGPIPE (`ignoreBrokenPipes()`), so a reader that
/// went away shows up as EPIPE: counted, said once on standard error.
public enum StandardStream {
    public static let output = AppendOnlyFile(descriptor: STDOUT_FILENO, name: "standard output") { message in
        error.writeLine(message)
    }
    /// Failures here have nowhere to be said; they are counted (`error.failures`).
    public static let error = AppendOnlyFile(descriptor: STDERR_FILENO, name: "standard error") { _ in }

    /// A write to a pipe whose reader exited fails with EPIPE instead of killing the process.
    public static func ignoreBrokenPipes() {
        signal(SIGPIPE, SIG_IGN)
    }
}
