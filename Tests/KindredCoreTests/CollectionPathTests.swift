import KindredCore
import Testing

@Suite struct CollectionPathTests {
    @Test func canonicalFormAndRefusals() throws {
        #expect(try CollectionPath("/art//blue/").string == "/art/blue")
        #expect(try CollectionPath("/").string == "/")
        for bad in ["art/x", "", "/art/../etc", "/art/./x", "/a\u{0}b"] {
            #expect(throws: PathError.self, "\(bad)") { try CollectionPath(bad) }
        }
    }

    /// A slash followed by a combining mark is one Swift Character; the kernel still splits there.
    /// Split at Characters, "/art/../\u{301}" read as the components "art" and "../\u{301}" and
    /// passed for a path under /art, though it names "/\u{301}".
    @Test func componentsAreSplitAtTheSlashByteAsTheKernelDoes() throws {
        #expect(throws: PathError.self) { try CollectionPath("/art/../\u{301}") }
        #expect(throws: PathError.self) { try CollectionPath("/art/x/\u{301}/../../../etc") }
        let marked = try CollectionPath("/art/\u{301}x//y")
        #expect(marked.string == "/art/\u{301}x/y")
        #expect(marked.isWithin(try CollectionPath("/art")))
        #expect(!(try CollectionPath("/art\u{301}/x")).isWithin(try CollectionPath("/art")))
    }
}
