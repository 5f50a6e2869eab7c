import Glibc
import Testing
import Transport

/// The probe a worker or `tributary` runs when a learner stays silent: DNS, refused and
/// reachable told apart on real sockets.
@Suite struct ConnectionProbeTests {
    @Test func endpointsSplitIntoHostAndPort() {
        #expect(ConnectionProbe.hostAndPort("tcp://10.0.0.5:5555")! == ("10.0.0.5", "5555"))
        #expect(ConnectionProbe.hostAndPort("tcp://[::1]:5557")! == ("::1", "5557"))
        #expect(ConnectionProbe.hostAndPort("ipc:///tmp/x") == nil)
        #expect(ConnectionProbe.probe("inproc://x").kind == "not_probed")
    }

    @Test func anUnknownNameIsADNSFailure() {
        let r = ConnectionProbe.probe("tcp://no-such-host.invalid:5555")
        #expect(r.kind == "dns", "\(r)")
        #expect(r.description.contains("does not resolve"))
    }

    @Test func aClosedPortIsRefusedAndAListeningOneReachable() throws {
        // A listening socket on an ephemeral loopback port.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(fd >= 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        #expect(listen(fd, 4) == 0)
        let port = UInt16(bigEndian: addr.sin_port)
        let open = ConnectionProbe.probe("tcp://127.0.0.1:\(port)")
        #expect(open == .reachable(address: "127.0.0.1:\(port)"), "\(open)")
        close(fd)
        let closed = ConnectionProbe.probe("tcp://127.0.0.1:\(port)")
        #expect(closed == .refused(address: "127.0.0.1:\(port)"), "\(closed)")
        #expect(closed.description.contains("nothing listens there"))
    }
}
