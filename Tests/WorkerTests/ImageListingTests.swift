import Testing

@testable import Worker

/// When a worker reads its engine's image list again (`EngineMonitor.refresh`): only when the
/// image count moved or the list grew old, since every listing costs the engine real time.
@Suite("image listing staleness")
struct ImageListingTests {
    let readAt = ContinuousClock.now
    var listing: EngineMonitor.ImageListing { .init(readAt: readAt, engineImageCount: 7) }

    @Test("a fresh list with the same image count is kept")
    func freshListIsKept() {
        #expect(!listing.isStale(engineImageCount: 7, at: readAt + .seconds(29), maximumAge: .seconds(30)))
    }

    @Test("a changed image count (build, removal) makes it stale at once")
    func countChangeMakesItStale() {
        #expect(listing.isStale(engineImageCount: 8, at: readAt, maximumAge: .seconds(30)))
        #expect(listing.isStale(engineImageCount: 6, at: readAt, maximumAge: .seconds(30)))
    }

    @Test("a list as old as the maximum age is read again")
    func oldListIsStale() {
        #expect(listing.isStale(engineImageCount: 7, at: readAt + .seconds(30), maximumAge: .seconds(30)))
    }
}
