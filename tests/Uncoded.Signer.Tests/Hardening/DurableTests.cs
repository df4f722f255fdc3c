using Uncoded.Signer.Hardening;
using Uncoded.Signer.Tests.Support;

namespace Uncoded.Signer.Tests.Hardened;

public sealed class DurableTests
{
    [Fact]
    public void ReplaceFile_CreatesPrivateFile_ThenReplacesItsContent()
    {
        using var dir = new TempDir();
        var path = dir.File("k.rolling.json");
        Durable.ReplaceFile(path, "first\n"u8);
        Assert.Equal("first\n", File.ReadAllText(path));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Durable.ReplaceFile(path, "second, longer\n"u8);
        Assert.Equal("second, longer\n", File.ReadAllText(path));
        Durable.ReplaceFile(path, "3\n"u8);
        Assert.Equal("3\n", File.ReadAllText(path));
        Assert.False(File.Exists(path + ".tmp"));
    }

    [Fact]
    public void ReplaceFile_NeverWritesThroughASymlinkedTempFile()
    {
        using var dir = new TempDir();
        var path = dir.File("k.rolling.json");
        var victim = dir.Write("victim", "untouched");
        File.CreateSymbolicLink(path + ".tmp", victim);
        Assert.Throws<IOException>(() => Durable.ReplaceFile(path, "state\n"u8));
        Assert.Equal("untouched", File.ReadAllText(victim));
        Assert.False(File.Exists(path));
    }
}
