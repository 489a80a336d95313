import Testing

@testable import Queue

/// `DATABASE_URL`: libpq's URL form, and one clear start-up line for every mistake.
struct PostgresLocationTests {
    @Test("postgres:// and postgresql:// URLs: user, password, host, port, database, sslmode")
    func parses() throws {
        let full = try PostgresLocation(url: "postgresql://runner:p%40ss%3Aword@db.example:6543/jobs?sslmode=require")
        #expect(full.username == "runner")
        #expect(full.password == "p@ss:word")
        #expect(full.host == "db.example")
        #expect(full.port == 6543)
        #expect(full.database == "jobs")
        #expect(full.sslMode == .require)
        #expect(full.unixSocketPath == nil)
        let plain = try PostgresLocation(url: "postgres://runner@10.0.0.5/jobs")
        #expect(plain.port == 5432 && plain.password == nil && plain.sslMode == .prefer && plain.connectTimeoutSeconds == 10)
        let socket = try PostgresLocation(url: "postgres://runner@localhost/jobs?host=/run/postgresql&connect_timeout=3")
        #expect(socket.unixSocketPath == "/run/postgresql/.s.PGSQL.5432")
        #expect(socket.connectTimeoutSeconds == 3)
        for mode in PostgresLocation.SSLMode.allCases {
            #expect(try PostgresLocation(url: "postgres://u@h/d?sslmode=\(mode.rawValue)").sslMode == mode)
        }
    }

    @Test("the password never shows in what is logged", arguments: ["postgres://u:secret@h/d", "postgres://u:secret@h:5/d?sslmode=disable"])
    func masksPassword(_ url: String) throws {
        let location = try PostgresLocation(url: url)
        #expect(!location.description.contains("secret"))
        #expect(location.description.contains("u:***@h"))
    }

    @Test(
        "mistakes are refused with a reason",
        arguments: [
            ("mysql://u@h/d", "must start with postgres://"),
            ("postgres://u@h", "must name one database"),
            ("postgres://u@h/a/b", "must name one database"),
            ("postgres://h/d", "names no user"),
            ("postgres://u@/d", "names no host"),
            ("postgres://u@h:70000/d", "port"),
            ("postgres://u@h/d?sslmode=maybe", "sslmode must be one of disable, allow, prefer, require, verify-ca, verify-full, got 'maybe'"),
            ("postgres://u@h/d?ssl=true", "unknown parameter 'ssl'"),
            ("postgres://u@h/d?connect_timeout=0", "connect_timeout must be 1 to 300 seconds"),
        ]
    )
    func refuses(_ url: String, _ reason: String) {
        #expect {
            _ = try PostgresLocation(url: url)
        } throws: { error in
            "\(error)".hasPrefix("DATABASE_URL ") && "\(error)".contains(reason)
        }
    }

    @Test("a bad DATABASE_URL is a start-up error naming it; DATABASE_POOL_SIZE is bounded")
    func settings() throws {
        let settings = try ServiceSettings(variables: ["DATABASE_URL": "postgres://u:pw@db/jobs", "DATABASE_POOL_SIZE": "4"])
        #expect(settings.databaseURL?.host == "db")
        #expect(settings.databasePoolSize == 4)
        #expect(try ServiceSettings(variables: ["DATABASE_URL": " "]).databaseURL == nil)
        #expect {
            _ = try ServiceSettings(variables: ["DATABASE_URL": "postgres://u:pw@db"])
        } throws: { error in
            "\(error)".contains("DATABASE_URL must name one database") && !"\(error)".contains("pw")
        }
        #expect(throws: InvalidConfiguration.self) { try ServiceSettings(variables: ["DATABASE_POOL_SIZE": "0"]) }
    }
}

/// When a process sends its wake-up NOTIFY (`NotifyCoalescer`).
struct NotifyCoalescerTests {
    @Test("a lone change is sent at once; changes during a send or its cooldown fold into one more")
    func coalesces() {
        var coalescer = NotifyCoalescer()
        #expect(coalescer.changed() == .send)
        #expect(coalescer.changed() == .none)
        #expect(coalescer.changed() == .none)
        #expect(coalescer.sent() == .startCooldown)
        #expect(coalescer.changed() == .none)
        #expect(coalescer.cooledDown() == .send)  // one trailing NOTIFY for the three changes
        #expect(coalescer.sent() == .startCooldown)
        #expect(coalescer.cooledDown() == .none)
        #expect(coalescer.state == .idle)
        #expect(coalescer.changed() == .send)  // idle again: the next change goes out at once
    }

    @Test("a write carries the NOTIFY only when none is in flight or cooling down")
    func carriedByWrite() {
        var coalescer = NotifyCoalescer()
        #expect(coalescer.carriedByWrite() == true)
        #expect(coalescer.carriedByWrite() == false)  // in flight: the next write goes without
        #expect(coalescer.changed() == .none)  // … and announces itself after, folded into one more
        #expect(coalescer.sent() == .startCooldown)
        #expect(coalescer.carriedByWrite() == false)  // cooling down
        #expect(coalescer.cooledDown() == .send)  // the trailing NOTIFY for the write that went without
        #expect(coalescer.sent() == .startCooldown)
        #expect(coalescer.cooledDown() == .none)
        #expect(coalescer.carriedByWrite() == true)  // idle again
    }

    @Test("the NOTIFY column names only a safe channel")
    func notifyColumn() {
        #expect(PostgresJobStatements.notifyColumn("code_runner_t_1f") == ", pg_notify('code_runner_t_1f', '') AS notified")
        #expect(PostgresJobStatements.notifyColumn(nil) == "")
        #expect(PostgresJobStatements.notifyColumn("") == "")
        #expect(PostgresJobStatements.notifyColumn("x'); DROP TABLE jobs; --") == "")
        #expect(PostgresJobStatements.notifyColumn("Upper") == "")
    }

    @Test("events out of order change nothing")
    func ignoresStrayEvents() {
        var coalescer = NotifyCoalescer()
        #expect(coalescer.sent() == .none)
        #expect(coalescer.cooledDown() == .none)
        #expect(coalescer.state == .idle)
    }
}
