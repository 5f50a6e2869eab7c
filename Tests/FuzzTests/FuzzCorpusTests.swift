import Foundation
import FuzzTargets
import Testing

/// Every committed fuzz input (Fuzz/corpus/<target>) replayed through its target in the
/// ordinary build: what the fuzzers found once stays fixed. A target traps on a broken
/// invariant, so a regression fails the whole run, as it should.
@Suite struct FuzzCorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz/corpus")

    @Test(arguments: Fuzz.targets)
    func corpusReplaysWithoutACrash(_ target: String) throws {
        let run = try #require(Fuzz.target(target))
        let count = try Fuzz.replay([Self.corpus.appendingPathComponent(target).path], run)
        #expect(count >= 4, "the \(target) corpus is missing")
    }

    /// The seeds the corpora started from are still in them.
    @Test(arguments: Fuzz.targets)
    func seedsAreInTheCorpus(_ target: String) throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.corpus.appendingPathComponent(target).path)
        let stored = Set(files.compactMap { FileManager.default.contents(atPath: Self.corpus.appendingPathComponent(target).appendingPathComponent($0).path) })
        for seed in FuzzSeeds.seeds(for: target) {
            #expect(stored.contains(Data(seed)), "a seed of \(target) is not in the corpus (run fuzz-\(target) --write-seeds)")
        }
    }
}
