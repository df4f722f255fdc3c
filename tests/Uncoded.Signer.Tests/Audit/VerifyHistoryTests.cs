using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Uncoded.Testing;

namespace Uncoded.Signer.Tests.Audit;

/// <summary>
/// verify-audit across rotations, on chains written here from the format in docs/audit-log.md
/// (a second writer of the format, independent of the signer's): the archives are checked
/// oldest first as one chain, and crafted files get a clear verdict, never a hang or a crash.
/// </summary>
public sealed class VerifyHistoryTests : IDisposable
{
    private readonly TempDir _dir = new();

    private string Log => _dir.File("audit.log");

    [Fact]
    public async Task ThreeFiles_OneChain_MinSeqCountsAcrossThem()
    {
        var files = WriteChain(files: 3, records: 3);
        var result = await Run.SignerAsync("verify-audit", "--log", Log, "--min-seq", "9");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("ok: 3 files, seq 1-9, chain intact across them", result.Stdout, StringComparison.Ordinal);
        Assert.Contains($"oldest first: {string.Join(", ", files.Select(Path.GetFileName))}", result.Stdout, StringComparison.Ordinal);
        var cut = await Run.SignerAsync("verify-audit", "--log", Log, "--min-seq", "10");
        Assert.Equal(5, cut.ExitCode);
        Assert.Contains("ends at seq 9, before seq 10", cut.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MiddleArchiveMissing_Incomplete_UnlessTheGapIsAccepted()
    {
        var files = WriteChain(files: 3, records: 3);
        File.Delete(files[1]);
        var result = await Run.SignerAsync("verify-audit", "--log", Log);
        Assert.Equal(6, result.ExitCode);
        Assert.Contains($"INCOMPLETE: audit.log continues {Path.GetFileName(files[1])}, which is not next to it", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("the history up to seq 6 cannot be checked", result.Stderr, StringComparison.Ordinal);

        var accepted = await Run.SignerAsync("verify-audit", "--log", Log, "--allow-missing-archives");
        Assert.True(accepted.ExitCode == 0, accepted.ToString());
        Assert.Contains("the history before it is not checked", accepted.Stdout, StringComparison.Ordinal);
        Assert.Equal(0, (await Run.SignerAsync("verify-audit", "--log", Log, "--no-archives")).ExitCode);
    }

    [Fact]
    public async Task HeaderWithTheRightHashButAnotherSeq_Fails()
    {
        WriteChain(files: 2, records: 3);
        EditHeader(Log, continues => continues["seq"] = 2);
        var result = await Run.SignerAsync("verify-audit", "--log", Log);
        Assert.Equal(5, result.ExitCode);
        Assert.Contains("line 1: the header continues audit.log.000000000003 after seq 2, but that file ends at seq 3", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SeqsNotGoingDownAtAStepBack_Fails_TheWalkCannotLoop()
    {
        var files = WriteChain(files: 3, records: 3);
        // The middle archive claims to come after the newest one: A -> B -> A would loop.
        EditHeader(files[1], continues =>
        {
            continues["file"] = "audit.log";
            continues["seq"] = 9;
        });
        var result = await Run.SignerAsync("verify-audit", "--log", Log);
        Assert.Equal(5, result.ExitCode);
        Assert.Contains($"{files[1]}: FAILED at line 1: the header says it comes after seq 9", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("a loop or a forged header", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ArchiveNameTakenByAFifoOrADirectory_ClearError_NoHang()
    {
        var files = WriteChain(files: 2, records: 3);
        File.Delete(files[0]);
        var mkfifo = await Run.ProcessAsync("mkfifo", [files[0]]);
        Assert.True(mkfifo.ExitCode == 0, mkfifo.ToString());
        var fifo = await Run.SignerAsync("verify-audit", "--log", Log);
        Assert.Equal(2, fifo.ExitCode);
        Assert.Contains("not a regular file", fifo.Stderr, StringComparison.Ordinal);

        File.Delete(files[0]);
        Directory.CreateDirectory(files[0]);
        var directory = await Run.SignerAsync("verify-audit", "--log", Log);
        Assert.Equal(2, directory.ExitCode);
        Assert.Contains("not a regular file", directory.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ArchiveWithoutNewlines_RefusedAsTooLong_MemoryBounded()
    {
        var files = WriteChain(files: 3, records: 3);
        await using (var junk = File.Create(files[1]))
        {
            junk.SetLength(64L * 1024 * 1024);
        }
        var result = await Run.SignerAsync("verify-audit", "--log", Log);
        Assert.Equal(5, result.ExitCode);
        Assert.Contains($"{files[1]}: FAILED at line 1: longer than 1048576 bytes", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SeqOutOfRange_IsABadLine_NotACrash()
    {
        WriteChain(files: 2, records: 3);
        EditHeader(Log, continues => continues["seq"] = ulong.MaxValue);
        var result = await Run.SignerAsync("verify-audit", "--log", Log);
        Assert.Equal(5, result.ExitCode);
        Assert.Contains("line 1: not a valid audit line (a header whose 'continues' seq is out of range)", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LongHistory_ArchivesOpenedOneAtATime_FitsAFewDescriptors()
    {
        WriteChain(files: 300, records: 1);
        var result = await Run.ProcessAsync("sh", ["-c", "ulimit -n 128 && exec dotnet \"$0\" verify-audit --log \"$1\"", Repo.SignerDll, Log]);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("ok: 300 files, seq 1-300", result.Stdout, StringComparison.Ordinal);
    }

    /// <summary>Writes a chain of <paramref name="files"/> files (archives named by their last seq, then audit.log), oldest first.</summary>
    private List<string> WriteChain(int files, int records)
    {
        var paths = new List<string>();
        ulong seq = 0;
        var lastHash = "";
        for (var f = 0; f < files; f++)
        {
            var continues = f == 0 ? null : new { file = Path.GetFileName(paths[^1]), seq, hash = lastHash };
            var lines = new List<string> { Header(continues) };
            for (var r = 0; r < records; r++)
            {
                seq++;
                lines.Add(Record(seq, Hash(lines[^1])));
            }
            lastHash = Hash(lines[^1]);
            var path = f == files - 1 ? Log : Log + "." + seq.ToString("D12", CultureInfo.InvariantCulture);
            File.WriteAllText(path, string.Join("\n", lines) + "\n");
            paths.Add(path);
        }
        return paths;
    }

    private static string Header(object? continues) => JsonSerializer.Serialize(new Dictionary<string, object?>
    {
        ["type"] = "uncoded-signer-audit",
        ["version"] = 1,
        ["genesis"] = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)),
        ["created"] = "2026-11-30T00:00:00.000000Z",
        ["continues"] = continues,
    }.Where(p => p.Value is not null).ToDictionary());

    private static string Record(ulong seq, string prev) => JsonSerializer.Serialize(new
    {
        seq,
        time = "2026-11-30T00:00:01.000000Z",
        peer = new { pid = 1, uid = 1000, gid = 1000 },
        key = "k",
        method = "GET",
        path = "/api/v3/account",
        payload = "recvWindow=5000&timestamp=1",
        decision = "allow",
        reason = "",
        prev,
    });

    private static string Hash(string line) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(line)));

    private static void EditHeader(string path, Action<System.Text.Json.Nodes.JsonObject> edit)
    {
        var lines = File.ReadAllLines(path);
        var header = System.Text.Json.Nodes.JsonNode.Parse(lines[0])!.AsObject();
        edit(header["continues"]!.AsObject());
        lines[0] = header.ToJsonString();
        File.WriteAllText(path, string.Join("\n", lines) + "\n");
    }

    public void Dispose() => _dir.Dispose();
}
