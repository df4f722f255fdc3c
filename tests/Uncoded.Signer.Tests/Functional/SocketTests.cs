using System.Text;
using Grpc.Core;
using Uncoded.Client;
using Uncoded.Signer.Tests.Support;

namespace Uncoded.Signer.Tests.Functional;

/// <summary>The real <c>serve</c> process on a real Unix socket: transport, peer checks, bad input.</summary>
public sealed class SocketTests
{
    private static async Task<(TempDir Dir, SignerProcess Signer)> StartAsync(object? allowedPeers = null, Action<TempDir>? prepare = null)
    {
        var dir = new TempDir();
        prepare?.Invoke(dir);
        var key = TestKeys.SealHmac(dir, "hmac.sealed");
        var signer = await SignerProcess.StartAsync(dir, TestKeys.Config(dir.File("s.sock"),
            new Dictionary<string, (string, string)> { ["main"] = key }, allowedPeers));
        return (dir, signer);
    }

    /// <summary>Signs Binance's example order with a fresh timestamp and checks the HMAC against .NET's.</summary>
    private static async Task<(string Signature, string ApiKey, string Algorithm)> SignExampleAsync(SignerProcess signer)
    {
        using var client = signer.Client();
        var payload = TestKeys.FreshExamplePayload();
        var response = await client.SignAsync("main", "POST", "/api/v3/order", Encoding.ASCII.GetBytes(payload));
        Assert.Equal(TestKeys.ExpectedHmac(payload), response.Signature);
        return (response.Signature, response.ApiKey, response.Algorithm);
    }

    [Fact]
    public async Task Sign_AllowedPeer_ReturnsHmacAndApiKey()
    {
        var (dir, signer) = await StartAsync();
        using (dir)
        await using (signer)
        {
            var response = await SignExampleAsync(signer);
            Assert.Equal("api-key-main", response.ApiKey);
            Assert.Equal("HMAC_SHA256", response.Algorithm);
        }
    }

    [Fact]
    public async Task Socket_CreatedWithMode0660()
    {
        var (dir, signer) = await StartAsync();
        using (dir)
        await using (signer)
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite,
                File.GetUnixFileMode(signer.SocketPath));
        }
    }

    /// <summary>The socket's directory, when the signer creates it, is 0750 whatever the umask (077 would lock out peers allowed by group).</summary>
    [Fact]
    public async Task SocketDirectory_CreatedUnderUmask077_Is0750()
    {
        using var dir = new TempDir();
        var socket = Path.Combine(dir.Path, "run", "signer.sock");
        var config = dir.Write("signer.json", System.Text.Json.JsonSerializer.Serialize(new
        {
            Signer = TestKeys.Config(socket, new Dictionary<string, (string, string)> { ["main"] = TestKeys.SealHmac(dir, "k.sealed") }),
        }));
        await using var signer = await SignerProcess.StartWithConfigAsync(config, socket, wrapper: ["sh", "-c", "umask 077 && exec \"$@\"", "sh"]);

        Assert.Equal((UnixFileMode)0b111_101_000, File.GetUnixFileMode(Path.GetDirectoryName(socket)!));
        await SignExampleAsync(signer);
    }

    [Fact]
    public async Task Serve_OpensNoTcpOrUdpSocket()
    {
        var (dir, signer) = await StartAsync();
        using (dir)
        await using (signer)
        {
            await SignExampleAsync(signer);
            var inodes = Directory.GetFiles($"/proc/{signer.Pid}/fd")
                .Select(fd => new FileInfo(fd).LinkTarget)
                .Where(t => t is not null && t.StartsWith("socket:[", StringComparison.Ordinal))
                .Select(t => t![8..^1])
                .ToHashSet();
            Assert.NotEmpty(inodes);
            foreach (var table in new[] { "tcp", "tcp6", "udp", "udp6" })
            {
                var lines = File.ReadAllLines($"/proc/{signer.Pid}/net/{table}").Skip(1);
                var inet = lines.Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[9]);
                Assert.DoesNotContain(inet, inodes.Contains);
            }
            var unix = File.ReadAllLines($"/proc/{signer.Pid}/net/unix").Skip(1)
                .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Where(f => inodes.Contains(f[6]));
            Assert.NotEmpty(unix);
        }
    }

    [Fact]
    public async Task Restart_AfterKill9_ReplacesStaleSocket()
    {
        var (dir, signer) = await StartAsync();
        using (dir)
        {
            signer.Kill();
            Assert.True(File.Exists(signer.SocketPath), "SIGKILL leaves the socket file behind");
            await using var second = await SignerProcess.StartWithConfigAsync(signer.ConfigPath, signer.SocketPath);
            Assert.Contains("Removed stale socket", second.Log);
            await SignExampleAsync(second);
            await signer.DisposeAsync();
        }
    }

    [Fact]
    public async Task SecondInstance_OnLiveSocket_RefusesToStartAndFirstKeepsServing()
    {
        var (dir, signer) = await StartAsync();
        using (dir)
        await using (signer)
        {
            // Its own audit log and state directory, so only the live socket can stop it.
            await using var second = await SignerProcess.StartWithConfigAsync(signer.ConfigPath, signer.SocketPath, waitUntilListening: false,
                env: new Dictionary<string, string?>
                {
                    ["UNCODED_Signer__Audit__Path"] = dir.File("second-audit.log"),
                    ["UNCODED_Signer__StateDirectory"] = dir.File("second-state"),
                });
            var exit = await second.WaitForExitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(3, exit);
            Assert.Contains("already listening", second.Log);
            await SignExampleAsync(signer);
        }
    }

    /// <summary>Lets uid 65534 reach the socket: the temp directory 0755 (the socket itself stays 0660).</summary>
    private static void OpenToOthers(TempDir dir) => File.SetUnixFileMode(dir.Path, (UnixFileMode)0b111_101_101);

    /// <summary>
    /// Runs <c>uncoded sign</c> for Binance's example order (fresh timestamp) under <c>setpriv</c>
    /// with <paramref name="credentials"/> (e.g. <c>--reuid=65534</c>), from a copy of the client
    /// that user can read. Returns the result and the payload it sent.
    /// </summary>
    private static async Task<(RunResult Result, string Payload)> SignAsAsync(SignerProcess signer, params string[] credentials)
    {
        using var clientDir = new TempDir("uncoded-client-");
        OpenToOthers(clientDir);
        foreach (var file in Directory.GetFiles(Path.GetDirectoryName(Repo.ClientDll)!))
        {
            File.Copy(file, Path.Combine(clientDir.Path, Path.GetFileName(file)));
        }
        var payload = TestKeys.FreshExamplePayload();
        var result = await Run.ProcessAsync("setpriv",
            [.. credentials, "--", "dotnet", Path.Combine(clientDir.Path, "uncoded.dll"),
                "sign", "--socket", signer.SocketPath, "--key-id", "main", "--payload", payload],
            env: new Dictionary<string, string?> { ["HOME"] = clientDir.Path, ["DOTNET_CLI_HOME"] = clientDir.Path });
        return (result, payload);
    }

    /// <summary>The connection is dropped before HTTP/2: to the client the signer is unreachable (exit 4), nothing is signed.</summary>
    private static void AssertUnreachable(RunResult result)
    {
        Assert.True(result.ExitCode == 4, result.ToString());
        Assert.Contains("unavailable: cannot reach the signer", result.Stderr);
        Assert.DoesNotContain("signature", result.Stdout);
    }

    private static void AssertSigned((RunResult Result, string Payload) signed)
    {
        Assert.True(signed.Result.ExitCode == 0, signed.Result.ToString());
        var json = System.Text.Json.JsonDocument.Parse(signed.Result.Stdout).RootElement;
        Assert.Equal(TestKeys.ExpectedHmac(signed.Payload), json.GetProperty("signature").GetString());
    }

    [Fact]
    public async Task PeerUidNotAllowed_IsRefusedAndLogged_AllowedPeerStillServed()
    {
        // The refused client runs as nobody (uid 65534) with supplementary group 0 so that the
        // socket's 0660 mode lets it connect: only the SO_PEERCRED allowlist can stop it.
        var (dir, signer) = await StartAsync(prepare: OpenToOthers);
        using (dir)
        await using (signer)
        {
            AssertUnreachable((await SignAsAsync(signer, "--reuid=65534", "--regid=65534", "--groups=0")).Result);
            await signer.WaitForLogAsync(@"Refused peer pid=\d+ uid=65534 gid=65534");

            // Without group 0 the socket's mode alone stops the same user.
            Assert.Equal(4, (await SignAsAsync(signer, "--reuid=65534", "--regid=65534", "--clear-groups")).Result.ExitCode);

            await SignExampleAsync(signer);
        }
    }

    [Fact]
    public async Task PeerGidAllowed_ServedByPrimaryGid_OtherPeersRefused()
    {
        // Gids only: the README says a listed *primary* gid is allowed and, the lists not being
        // empty, nobody else (not even the signer's own uid).
        var (dir, signer) = await StartAsync(new { Uids = Array.Empty<uint>(), Gids = new uint[] { 65534 } }, OpenToOthers);
        using (dir)
        await using (signer)
        {
            // The socket's group, as an operator would set it (chgrp, systemd SocketGroup=), lets gid 65534 open it.
            var chgrp = await Run.ProcessAsync("chgrp", ["65534", signer.SocketPath]);
            Assert.True(chgrp.ExitCode == 0, chgrp.ToString());
            AssertSigned(await SignAsAsync(signer, "--reuid=65534", "--regid=65534", "--clear-groups"));

            // gid 65534 only as a supplementary group (it can open the socket, SO_PEERCRED reports gid 1): refused.
            AssertUnreachable((await SignAsAsync(signer, "--reuid=65534", "--regid=1", "--groups=65534")).Result);
            await signer.WaitForLogAsync(@"Refused peer pid=\d+ uid=65534 gid=1\b");

            // This test process: root, the signer's own uid, gid 0.
            using var client = signer.Client();
            await Assert.ThrowsAsync<SignerUnavailableException>(() =>
                client.SignAsync("main", "POST", "/api/v3/order", Encoding.ASCII.GetBytes(TestKeys.FreshExamplePayload())));
            await signer.WaitForLogAsync($@"Refused peer pid={Environment.ProcessId} uid={Hardening.Libc.getuid()} gid=");
            Assert.False(signer.HasExited);
        }
    }

    [Fact]
    public async Task AllowedPeersEmpty_OnlyTheSignersOwnUidServed()
    {
        // The documented default: both lists empty allow the signer's own uid (this test's, root) and nobody else.
        var (dir, signer) = await StartAsync(new { Uids = Array.Empty<uint>(), Gids = Array.Empty<uint>() }, OpenToOthers);
        using (dir)
        await using (signer)
        {
            await SignExampleAsync(signer);
            // Another uid that can open the socket (group 0) is refused.
            AssertUnreachable((await SignAsAsync(signer, "--reuid=65534", "--regid=65534", "--groups=0")).Result);
            await signer.WaitForLogAsync(@"Refused peer pid=\d+ uid=65534 gid=65534");
            await SignExampleAsync(signer);
        }
    }

    [Fact]
    public async Task RefusedPeerFlood_LoggedTenTimesAMinute_ThenCounted()
    {
        var (dir, signer) = await StartAsync(prepare: OpenToOthers);
        using (dir)
        await using (signer)
        {
            // 50 connections from a uid that is not allowed (group 0 lets it open the 0660 socket).
            const string Flood = "import socket, sys\nfor _ in range(50):\n    s = socket.socket(socket.AF_UNIX)\n    s.connect(sys.argv[1])\n    s.recv(1)\n    s.close()\n";
            var result = await Run.ProcessAsync("setpriv", ["--reuid=65534", "--regid=65534", "--groups=0", "--", "/usr/bin/python3", "-c", Flood, signer.SocketPath]);
            Assert.True(result.ExitCode == 0, result.ToString());
            await WaitUntilAsync(() => signer.Log.Contains("the rest of the minute is counted", StringComparison.Ordinal));
            var logged = System.Text.RegularExpressions.Regex.Matches(signer.Log, @"Refused peer pid=\d+ uid=65534").Count;
            // Ten a minute (twenty if the flood straddled a minute boundary), not fifty.
            Assert.InRange(logged, 10, 20);
            await SignExampleAsync(signer);
        }
    }

    [Fact]
    public async Task ConnectionFlood_OverTheDescriptorLimit_SignerSurvivesAndServes()
    {
        // 1,500 idle connections against a signer allowed 1,024 descriptors: it keeps at most 256 open.
        using var dir = new TempDir();
        var key = TestKeys.SealHmac(dir, "hmac.sealed");
        var configPath = dir.Write("signer.json", System.Text.Json.JsonSerializer.Serialize(new
        {
            Signer = TestKeys.Config(dir.File("s.sock"), new Dictionary<string, (string, string)> { ["main"] = key }),
        }));
        await using var signer = await SignerProcess.StartWithConfigAsync(configPath, dir.File("s.sock"), wrapper: ["prlimit", "--nofile=1024:1024", "--"]);
        var held = new List<System.Net.Sockets.Socket>();
        try
        {
            for (var i = 0; i < 1500; i++)
            {
                var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
                held.Add(socket);
                socket.Connect(new System.Net.Sockets.UnixDomainSocketEndPoint(signer.SocketPath));
            }
            await Task.Delay(TimeSpan.FromSeconds(3));
            Assert.False(signer.HasExited, signer.Log);
        }
        finally
        {
            foreach (var socket in held)
            {
                socket.Dispose();
            }
        }
        // Once Kestrel has seen the flood's connections close (a moment), it serves again.
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await SignExampleAsync(signer);
                break;
            }
            catch (SignerCallException) when (attempt < 50)
            {
                await Task.Delay(200);
            }
        }
    }

    [Fact]
    public async Task Client_CreatedAndDisposedPerCall_ClosesItsConnection_ThreeHundredCallsAllServed()
    {
        var (dir, signer) = await StartAsync();
        using (dir)
        await using (signer)
        {
            // More calls than the signer's 256 connections: each disposed client must give its connection back.
            for (var i = 0; i < 300; i++)
            {
                await SignExampleAsync(signer);
            }
        }
    }

    [Fact]
    public async Task Client_SignerStopped_DeadlinePasses_Unavailable_NotAHang()
    {
        var (dir, signer) = await StartAsync();
        using (dir)
        await using (signer)
        {
            await SignExampleAsync(signer);
            Assert.Equal(0, (await Run.ProcessAsync("kill", ["-STOP", signer.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture)])).ExitCode);
            try
            {
                using var client = new SignerClient(signer.SocketPath, TimeSpan.FromSeconds(2));
                var started = System.Diagnostics.Stopwatch.StartNew();
                var e = await Assert.ThrowsAsync<SignerUnavailableException>(() =>
                    client.SignAsync("main", "POST", "/api/v3/order", Encoding.ASCII.GetBytes(TestKeys.FreshExamplePayload())));
                Assert.Equal(StatusCode.DeadlineExceeded, e.Code);
                Assert.InRange(started.Elapsed, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(20));

                // The CLI says so with its own exit code; a missing socket is the same kind of failure.
                var cli = await Run.DotnetAsync(Repo.ClientDll, ["sign", "--socket", signer.SocketPath, "--key-id", "main", "--timeout", "1", "--payload", TestKeys.FreshExamplePayload()]);
                Assert.Equal(4, cli.ExitCode);
                Assert.Contains("unavailable: cannot reach the signer", cli.Stderr, StringComparison.Ordinal);
                var missing = await Run.DotnetAsync(Repo.ClientDll, ["sign", "--socket", dir.File("absent.sock"), "--key-id", "main", "--payload", "a=1"]);
                Assert.Equal(4, missing.ExitCode);
            }
            finally
            {
                await Run.ProcessAsync("kill", ["-CONT", signer.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            }
            await SignExampleAsync(signer);
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        for (var i = 0; i < 200 && !condition(); i++)
        {
            await Task.Delay(50);
        }
        Assert.True(condition(), "timed out");
    }

    public static TheoryData<string, string, string, byte[], StatusCode, string> BadRequests => new()
    {
        { "main", "POST", "/api/v3/order", [], StatusCode.InvalidArgument, "EMPTY_PAYLOAD" },
        { "main", "POST", "/api/v3/order", Encoding.ASCII.GetBytes("a=" + new string('1', 4095)), StatusCode.InvalidArgument, "PAYLOAD_TOO_LARGE" },
        { "main", "POST", "/api/v3/order", [(byte)'a', (byte)'=', 0xFF, 0xFE], StatusCode.InvalidArgument, "NON_ASCII_PAYLOAD" },
        { "main", "POST", "/api/v3/order", Encoding.UTF8.GetBytes("symbol=１２３"), StatusCode.InvalidArgument, "NON_ASCII_PAYLOAD" },
        { "main", "POST", "/api/v3/order", Encoding.ASCII.GetBytes("a=1 b=2"), StatusCode.InvalidArgument, "NON_ASCII_PAYLOAD" },
        { "nope", "POST", "/api/v3/order", Encoding.ASCII.GetBytes(TestKeys.BinanceExamplePayload), StatusCode.NotFound, "UNKNOWN_KEY" },
        { "main", "PATCH", "/api/v3/order", Encoding.ASCII.GetBytes(TestKeys.BinanceExamplePayload), StatusCode.InvalidArgument, "BAD_METHOD" },
        { "main", "POST", "api/v3/order", Encoding.ASCII.GetBytes(TestKeys.BinanceExamplePayload), StatusCode.InvalidArgument, "BAD_PATH" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task Sign_BadInput_ClearStatusAndServerStaysUp(string keyId, string method, string path, byte[] payload, StatusCode code, string reason)
    {
        var (dir, signer) = await StartAsync();
        using (dir)
        await using (signer)
        {
            using var client = signer.Client();
            var e = await Assert.ThrowsAsync<SignerRefusedException>(() => client.SignAsync(keyId, method, path, payload));
            Assert.Equal(code, e.Code);
            Assert.Equal(reason, e.Reason);
            Assert.False(signer.HasExited);
            await SignExampleAsync(signer);
        }
    }

    [Fact]
    public async Task Sign_RequestMessageOver4KiB_RequestTooLargeAuditedAndServerStaysUp()
    {
        var (dir, signer) = await StartAsync();
        using (dir)
        await using (signer)
        {
            using var client = signer.Client();
            // A payload within its own 4096-byte limit; on the wire the message is key_id "main" (6
            // bytes) + method "POST" (6) + payload (3 + 4000) + path (2 + its length).
            var payload = Encoding.ASCII.GetBytes("a=" + new string('1', 3998));
            var e = await Assert.ThrowsAsync<SignerRefusedException>(() => client.SignAsync("main", "POST", "/" + new string('p', 79), payload));
            Assert.Equal(StatusCode.InvalidArgument, e.Code);
            Assert.Equal("REQUEST_TOO_LARGE", e.Reason);
            Assert.Equal(new Dictionary<string, string> { ["rule"] = "request", ["observed"] = "4097 bytes", ["limit"] = "4096 bytes" },
                e.Metadata.OrderBy(p => p.Key).ToDictionary());
            var record = System.Text.Json.JsonDocument.Parse(File.ReadLines(dir.File("audit.log")).Last()).RootElement;
            Assert.Equal("deny", record.GetProperty("decision").GetString());
            Assert.Equal("REQUEST_TOO_LARGE", record.GetProperty("reason").GetString());

            // One byte less (a 4096-byte message) passes this check and is refused further on (no such endpoint).
            var within = await Assert.ThrowsAsync<SignerRefusedException>(() => client.SignAsync("main", "POST", "/" + new string('p', 78), payload));
            Assert.Equal("ENDPOINT_NOT_ALLOWED", within.Reason);

            Assert.False(signer.HasExited);
            await SignExampleAsync(signer);
        }
    }

    [Fact]
    public async Task Sign_MessageOverTransportLimit_RefusedAndServerStaysUp()
    {
        var (dir, signer) = await StartAsync();
        using (dir)
        await using (signer)
        {
            using var client = signer.Client();
            // Over gRPC's message limit: gRPC's own RESOURCE_EXHAUSTED (no ErrorInfo), before the payload is looked at.
            var e = await Assert.ThrowsAsync<SignerRefusedException>(() =>
                client.SignAsync("main", "POST", "/api/v3/order", Enumerable.Repeat((byte)'a', Transport.UnixSocketTransport.MaxMessageBytes).ToArray()));
            Assert.Equal(StatusCode.ResourceExhausted, e.Code);
            Assert.Equal(nameof(StatusCode.ResourceExhausted), e.Reason);
            Assert.Empty(e.Metadata);
            // Over Kestrel's 16 KiB body limit: the stream is reset, nothing is signed.
            var reset = await Assert.ThrowsAnyAsync<SignerCallException>(() =>
                client.SignAsync("main", "POST", "/api/v3/order", Enumerable.Repeat((byte)'a', 1024 * 1024).ToArray()));
            Assert.NotEqual(StatusCode.OK, reset.Code);
            Assert.False(signer.HasExited);
            await SignExampleAsync(signer);
        }
    }

    [Fact]
    public async Task Serve_WrongPassphrase_FailsStartNamingTheKeyWithNoSecretInLog()
    {
        using var dir = new TempDir();
        var good = TestKeys.SealHmac(dir, "good.sealed");
        var (sealedPath, _) = TestKeys.SealHmac(dir, "k.sealed");
        var wrong = dir.Write("wrong.pass", "Tr0ub4dor&3 wrong one");
        await using var signer = await SignerProcess.StartAsync(dir, TestKeys.Config(dir.File("s.sock"),
            new Dictionary<string, (string, string)> { ["good"] = good, ["main"] = (sealedPath, wrong) }), waitUntilListening: false);
        Assert.Equal(3, await signer.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains($"key 'main' (sealed file {sealedPath}): wrong passphrase", signer.Log);
        Assert.DoesNotContain("Tr0ub4dor", signer.Log);
        Assert.DoesNotContain(TestKeys.Passphrase, signer.Log);
        Assert.False(File.Exists(dir.File("s.sock")));
    }

    [Fact]
    public async Task Serve_UnknownSetting_FailsStartNamingIt()
    {
        // At every depth, each named by its full path (not the binder's "not found on SealedFileOptions").
        using var dir = new TempDir();
        var key = TestKeys.SealHmac(dir, "k.sealed");
        var config = dir.Write("signer.json", $$"""
            { "Signer": { "SocketPath": "{{dir.File("s.sock")}}", "SocketMode": "0666",
              "AllowedPeers": { "Uids": [0], "Users": ["root"] },
              "Audit": { "Path": "{{dir.File("audit.log")}}", "Rotate": true },
              "Keys": {
                "main": { "ApiKey": "a", "SealedFile": { "Path": "{{key.SealedPath}}", "PassphraseFile": "{{key.PassphrasePath}}", "Kdf": { "Memory": 1 } },
                          "Guard": { "Symbols": { "LTCBTC": { "MaxOrderNotional": 1, "MaxPrice": 2 } }, "MaxDailyNotional": 1 } },
                "hsm": { "ApiKey": "b", "Pkcs11": { "Module": "/m.so", "TokenLabel": "t", "KeyLabel": "k", "PinFile": "/p", "Slot": 0 } } } },
              "Logging": { "LogLevl": { "Default": "Debug" }, "LogLevel": { "Default": "Verbose" } } }
            """);
        await using var signer = await SignerProcess.StartWithConfigAsync(config, dir.File("s.sock"), waitUntilListening: false);
        Assert.Equal(3, await signer.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        foreach (var path in new[]
        {
            "Signer:SocketMode", "Signer:AllowedPeers:Users", "Signer:Audit:Rotate", "Signer:Keys:main:SealedFile:Kdf",
            "Signer:Keys:main:Guard:Symbols:LTCBTC:MaxPrice", "Signer:Keys:hsm:Pkcs11:Slot", "Logging:LogLevl",
        })
        {
            Assert.Contains($"unknown setting '{path}'", signer.Log, StringComparison.Ordinal);
        }
        Assert.Contains("'Signer:Keys:main:SealedFile:Kdf' (expected: Path, PassphraseFile, PassphraseEnv, PassphraseCredential)", signer.Log, StringComparison.Ordinal);
        Assert.Contains("'Logging:LogLevel:Default' must be one of Trace, Debug, Information, Warning, Error, Critical, None", signer.Log, StringComparison.Ordinal);
        Assert.Contains("[BAD_CONFIG]", signer.Log, StringComparison.Ordinal);
        Assert.DoesNotContain("ErrorOnUnknownConfiguration", signer.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_EnvironmentOverride_ChangesSocketPath()
    {
        using var dir = new TempDir();
        var key = TestKeys.SealHmac(dir, "k.sealed");
        var configured = dir.File("configured.sock");
        var overridden = dir.File("env.sock");
        var config = dir.Write("signer.json", System.Text.Json.JsonSerializer.Serialize(new
        {
            Signer = TestKeys.Config(configured, new Dictionary<string, (string, string)> { ["main"] = key }),
        }));
        await using var signer = await SignerProcess.StartWithConfigAsync(config, overridden,
            env: new Dictionary<string, string?> { ["UNCODED_Signer__SocketPath"] = overridden });
        Assert.True(File.Exists(overridden));
        Assert.False(File.Exists(configured));
        await SignExampleAsync(signer);
    }
}
