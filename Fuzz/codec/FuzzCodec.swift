// The 'codec' fuzz target. scripts/fuzz.sh builds it with -DFUZZING and -sanitize=fuzzer,address:
// SwiftPM links an executable's entry point as fuzz_codec_main, so that is where libFuzzer's
// driver starts. In an ordinary build it replays corpus files and folders (make test).
import FuzzTargets

#if FUZZING
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

@_cdecl("fuzz_codec_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        Fuzz.codec(UnsafeRawBufferPointer(start: data, count: size))
        return 0
    }
}
#else
@main
struct Replay {
    static func main() { FuzzReplay.main(target: "codec") }
}
#endif
