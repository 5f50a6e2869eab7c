import Foundation
import SafeIO
import Locking
import Testing

@Suite struct AppendOnlyFileTests {
    /// A full disk (/dev/full answers every write with ENOSPC) is counted and said once; the
    /// FileHandle.write this replaced trapped and took the learner down.
    @Test func aFullDiskIsCountedNotACrash() throws {
        let said = Mutex<[String]>([])
        let file = try AppendOnlyFile(path: "/dev/full", truncate: false, onError: { m in said.withLock { $0.append(m) } })
        #expect(!file.append(Data("one line\n".utf8)))
        #expect(!file.append(Data("another\n".utf8)))
        #expect(file.failures == 2)
        #expect(said.withLock { $0.count } == 1)
        #expect(said.withLock { $0.first ?? "" }.contains("No space left on device"))
    }

    @Test func linesArriveWhole() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("append-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try AppendOnlyFile(path: path, onError: { _ in })
        #expect(file.append(Data("a\n".utf8)) && file.append(Data("b\n".utf8)))
        file.close()
        #expect(!file.append(Data("c\n".utf8)))
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "a\nb\n")
    }

    /// A reader that went away (the learner's events piped into a process that exited): with
    /// SIGPIPE ignored, as the executables do, the write fails with EPIPE, is counted and said
    /// once, and the descriptor, which this writer does not own, stays open.
    @Test func aClosedPipeIsCountedNotACrash() throws {
        StandardStream.ignoreBrokenPipes()
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[1]) }
        let said = Mutex<[String]>([])
        let writer = AppendOnlyFile(descriptor: fds[1], name: "events pipe", onError: { m in said.withLock { $0.append(m) } })
        #expect(writer.writeLine("ready"))
        close(fds[0])
        #expect(!writer.writeLine("summary"))
        #expect(!writer.writeLine("again"))
        #expect(writer.failures == 2)
        #expect(said.withLock { $0 } == ["events pipe: Broken pipe; later failed writes are counted, not reported"])
        writer.close()
        #expect(fcntl(fds[1], F_GETFD) >= 0, "close() closed a descriptor it does not own")
    }
}
