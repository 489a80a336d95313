import CodeRunnerClient
import Testing

/// The client's spelling of image names, which mirrors the service's (no service needed).
struct ImageNameTests {
    @Test("prebuilt names get their prefix once; runtime ids lose theirs")
    func names() {
        #expect(ImageName.prebuilt("tools") == "prebuilt-tools")
        #expect(ImageName.prebuilt("prebuilt-tools") == "prebuilt-tools")
        #expect(ImageName.runtimeName(of: "code-runner-go") == "go")
        #expect(ImageName.runtimeName(of: "go") == "go")
        #expect(RunRequest(prebuilt: "x", code: "print(1)").image == "prebuilt-x")
    }
}
