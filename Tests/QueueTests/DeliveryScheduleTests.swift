import Testing

@testable import Queue

/// `DeliverySchedule`: when a failed webhook delivery is tried again, and when it gives up.
struct DeliveryScheduleTests {
    let schedule = DeliverySchedule()

    @Test("waits double from 5 s and are capped at an hour")
    func sequence() {
        let waits = (1...14).map { schedule.delay(afterAttempt: $0, elapsed: 0, jitter: 0.5) }
        #expect(waits == [5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600, 3600, 3600])
        #expect(schedule.delay(afterAttempt: 0, elapsed: 0, jitter: 0.5) == 5, "attempt below 1 counts as 1")
        #expect(schedule.delay(afterAttempt: 10_000, elapsed: 0, jitter: 0.5) == 3600, "a huge attempt is the cap, not infinity")
        #expect(schedule.delay(afterAttempt: Int.max, elapsed: 0, jitter: 0.5) == 3600)
    }

    @Test("jitter moves each wait by at most 10 % either way, around the capped value")
    func jitterBounds() {
        for attempt in 1...14 {
            let base = schedule.baseDelay(afterAttempt: attempt)
            for jitter in [0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.999_999] {
                let wait = schedule.delay(afterAttempt: attempt, elapsed: 0, jitter: jitter) ?? -1
                #expect(wait >= base * 0.9 - 1e-9 && wait <= base * 1.1 + 1e-9, "attempt \(attempt), jitter \(jitter): \(wait)")
            }
        }
        #expect(abs((schedule.delay(afterAttempt: 1, elapsed: 0, jitter: 0) ?? 0) - 4.5) < 1e-9)
        #expect(abs((schedule.delay(afterAttempt: 12, elapsed: 0, jitter: 0) ?? 0) - 3240) < 1e-9)
        #expect((schedule.delay(afterAttempt: 12, elapsed: 0, jitter: 0.999_999) ?? 0) < 3960)
        #expect(schedule.delay(afterAttempt: 3, elapsed: 0, jitter: 0.25) ?? 0 < schedule.delay(afterAttempt: 3, elapsed: 0, jitter: 0.75) ?? 0)
        // Out of range or not a number: clamped, or no jitter.
        #expect(abs((schedule.delay(afterAttempt: 1, elapsed: 0, jitter: -3) ?? 0) - 4.5) < 1e-9)
        #expect(abs((schedule.delay(afterAttempt: 1, elapsed: 0, jitter: 7) ?? 0) - 5.5) < 1e-9)
        #expect(schedule.delay(afterAttempt: 1, elapsed: 0, jitter: .nan) == 5)
    }

    @Test("gives up once the next attempt would start more than a day after the first")
    func horizon() {
        #expect(schedule.delay(afterAttempt: 30, elapsed: 86_400 - 3600, jitter: 0.5) == 3600, "exactly at the horizon is still tried")
        #expect(schedule.delay(afterAttempt: 30, elapsed: 86_400 - 3599, jitter: 0.5) == nil)
        #expect(schedule.delay(afterAttempt: 2, elapsed: 86_395, jitter: 0.5) == nil)
        #expect(schedule.delay(afterAttempt: 2, elapsed: 86_390, jitter: 0.5) == 10)
        #expect(schedule.delay(afterAttempt: 2, elapsed: 86_390, jitter: 0.9) == nil, "jitter counts towards the horizon")
        #expect(schedule.delay(afterAttempt: 1, elapsed: 100_000, jitter: 0.5) == nil)
        #expect(schedule.delay(afterAttempt: 1, elapsed: .infinity, jitter: 0.5) == nil)
        #expect(schedule.delay(afterAttempt: 1, elapsed: .nan, jitter: 0.5) == nil)
        #expect(schedule.delay(afterAttempt: 1, elapsed: -10, jitter: 0.5) == 5, "a clock step backwards counts as 0")
    }

    @Test("33 attempts fit in a day with the defaults; their waits sum to at most 86 400 s and one more would not")
    func maximumAttempts() {
        let attempts = schedule.maximumAttempts
        #expect(attempts == 33)
        let waits = (1...attempts).map { schedule.baseDelay(afterAttempt: $0) }
        let lastStart = waits.dropLast().reduce(0, +)
        #expect(lastStart == 84_315)
        #expect(lastStart <= 86_400)
        #expect(lastStart + waits[attempts - 1] > 86_400)
        // The same as walking the schedule by hand.
        var elapsed = 0.0
        for attempt in 1..<attempts {
            let wait = schedule.delay(afterAttempt: attempt, elapsed: elapsed, jitter: 0.5)
            #expect(wait != nil, "attempt \(attempt)")
            elapsed += wait ?? 0
        }
        #expect(schedule.delay(afterAttempt: attempts, elapsed: elapsed, jitter: 0.5) == nil)
    }

    @Test("other parameters: factor, cap and horizon are respected")
    func customSchedule() {
        let custom = DeliverySchedule(first: 1, factor: 3, cap: 10, horizon: 30)
        #expect((1...5).map { custom.delay(afterAttempt: $0, elapsed: 0, jitter: 0.5) } == [1, 3, 9, 10, 10])
        #expect(custom.maximumAttempts == 5)  // starts at 0, 1, 4, 13, 23; the next would be 33
        #expect(DeliverySchedule(horizon: 0).maximumAttempts == 1)
        #expect(DeliverySchedule(first: 5, factor: 1, cap: 5, horizon: 20).maximumAttempts == 5)
        #expect(custom == DeliverySchedule(first: 1, factor: 3, cap: 10, horizon: 30))
        #expect(custom != schedule)
    }
}
