import Foundation
import KindredEngine
import Testing

/// Each of the scheduler's triggers on its own: a request, the daily time, enough new items.
@Suite struct RefitTriggerTests {
    var utc: Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }

    func triggers(_ change: (inout RefitSettings) -> Void = { _ in }) -> RefitTriggers {
        var settings = RefitSettings()
        change(&settings)
        return RefitTriggers(settings: settings, calendar: utc)
    }

    /// 2026-12-01 at `hh:mm:ss` UTC.
    func at(_ h: Int, _ m: Int, _ s: Int = 0) -> Date {
        utc.date(from: DateComponents(year: 2026, month: 12, day: 1, hour: h, minute: m, second: s))!
    }

    func reason(
        _ t: RefitTriggers, requested: Bool = false, from: Date, to: Date, indexed: Int? = 0, last: Int = 0,
        busy: Bool = false
    ) -> String? {
        t.reason(
            requested: requested, lastCheck: from, now: to, indexed: { indexed }, lastRunItems: { last },
            ingestionBusy: busy)
    }

    @Test func aRequestAlwaysRefits() {
        #expect(
            reason(
                triggers {
                    $0.scheduleMinutes = nil; $0.afterNewFraction = 0
                }, requested: true, from: at(12, 0), to: at(12, 0, 5)) == "requested")
    }

    @Test func theDailyTimeFiresOnceWhenItPasses() {
        let t = triggers()  // 03:00
        #expect(reason(t, from: at(2, 59, 58), to: at(3, 0, 3)) == "schedule 03:00")
        #expect(reason(t, from: at(3, 0, 3), to: at(3, 0, 8)) == nil, "not again on the next check")
        #expect(reason(t, from: at(2, 59, 50), to: at(2, 59, 55)) == nil, "not before")
        // A check that spans midnight sees yesterday's time only if it passed in between.
        #expect(
            reason(
                triggers { $0.scheduleMinutes = 23 * 60 + 59 }, from: at(0, 0, 0).addingTimeInterval(-70),
                to: at(0, 0, 5)) == "schedule 23:59")
        #expect(
            reason(triggers { $0.scheduleMinutes = nil }, from: at(2, 59, 58), to: at(3, 0, 3)) == nil, "no schedule")
    }

    @Test func enoughNewItemsRefitOnceIngestionIsIdle() {
        let t = triggers { $0.scheduleMinutes = nil }  // 20 %, HDBSCAN min_cluster_size 50: at least 100 items
        #expect(t.settings.minimumItems == 100)
        #expect(reason(t, from: at(12, 0), to: at(12, 0, 5), indexed: 99) == nil, "too few for any run")
        #expect(reason(t, from: at(12, 0), to: at(12, 0, 5), indexed: 100) == "no run yet, 100 items")
        #expect(reason(t, from: at(12, 0), to: at(12, 0, 5), indexed: 1000, busy: true) == nil, "waits for the scan")
        #expect(reason(t, from: at(12, 0), to: at(12, 0, 5), indexed: 1199, last: 1000) == nil)
        #expect(reason(t, from: at(12, 0), to: at(12, 0, 5), indexed: 1200, last: 1000) == "20% new items")
        #expect(
            reason(
                triggers {
                    $0.scheduleMinutes = nil; $0.afterNewFraction = 0
                }, from: at(12, 0), to: at(12, 0, 5), indexed: 5000, last: 10) == nil,
            "0 turns the trigger off")
    }

    @Test func theMinimumIsOneRuleForEveryAlgorithm() {
        let kmeans = triggers {
            $0.scheduleMinutes = nil; $0.algorithm = .kmeans(ks: 2...20)
        }
        #expect(kmeans.settings.minimumItems == 17, "UMAP's 15 neighbours + 2")
        #expect(reason(kmeans, from: at(12, 0), to: at(12, 0, 5), indexed: 17) == "no run yet, 17 items")
        #expect(triggers { $0.algorithm = .kmeans(ks: 30...40) }.settings.minimumItems == 31)
    }
}
