import Foundation
import Learner
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
}
