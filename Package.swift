// swift-tools-version:6.1
// Code Runner: an HTTP API (Hummingbird) that queues code-execution jobs in SQLite (GRDB) or
// PostgreSQL (postgres-nio), and worker processes that run them in hardened Docker containers
// (Engine API over the unix socket).
import PackageDescription

let package = Package(
    name: "code-runner",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "code-runner-api", targets: ["API"]),
        .executable(name: "code-runner-worker", targets: ["WorkerMain"]),
        .executable(name: "code-runner-bench", targets: ["Bench"]),
        .library(name: "Queue", targets: ["Queue"]),
        .library(name: "CodeRunnerClient", targets: ["CodeRunnerClient"]),
        .executable(name: "code-runner", targets: ["CLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
    ],
    targets: [
        .target(
            name: "Queue",
            dependencies: [
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                // ConnectionPoolError: how the pool says it cannot connect (a 503, not a 500)
                .product(name: "_ConnectionPoolModule", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Configuration", package: "swift-configuration"),
                // HMAC-SHA256 of webhook deliveries (already built for postgres-nio)
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .executableTarget(
            name: "API",
            dependencies: [
                "Queue",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Configuration", package: "swift-configuration"),
            ],
            // GET /openapi.json; installed next to the binary as code-runner_API.resources/.
            resources: [.copy("Resources/openapi.json")]
        ),
        // The worker: a library (everything it is made of), the production `code-runner-worker`
        // executable around it, and `code-runner-bench` (benchmarks, the tests' queue probe).
        .target(
            name: "Worker",
            dependencies: [
                "Queue",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Configuration", package: "swift-configuration"),
            ]
        ),
        .executableTarget(
            name: "WorkerMain",
            dependencies: ["Worker", "Queue", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "Bench",
            dependencies: [
                "Worker", "Queue",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "QueueTests",
            dependencies: [
                "Queue",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "APITests",
            dependencies: [
                "API", "Queue",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
        .testTarget(name: "WorkerTests", dependencies: ["Worker", "Queue"]),
        // The client library and CLI: HTTP only, no dependency on the service's own targets.
        .target(
            name: "CodeRunnerClient",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "CLI",
            dependencies: ["CodeRunnerClient", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .testTarget(name: "ClientTests", dependencies: ["CodeRunnerClient"]),
    ],
    swiftLanguageModes: [.v6]
)
