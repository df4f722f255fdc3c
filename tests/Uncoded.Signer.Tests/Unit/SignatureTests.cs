using System.Text;
using Uncoded.Signer.Backends;
using Uncoded.Signer.Tests.Support;

namespace Uncoded.Signer.Tests.Unit;

public sealed class SignatureTests
{
    [Fact]
    public async Task Hmac_BinancePublishedExample_ReproducedExactly()
    {
        using var key = SoftwareKeys.Create(KeyFactory.ImportHmacSecret(Encoding.ASCII.GetBytes(TestKeys.BinanceExampleSecret + "\n"), "t", DateTimeOffset.UnixEpoch));
        var raw = await key.SignAsync(Encoding.ASCII.GetBytes(TestKeys.BinanceExamplePayload), default);
        Assert.Equal(TestKeys.BinanceExampleSignature, SignatureEncoding.ToWire(key.Algorithm, raw));
    }

    [Fact]
    public void ToWire_Base64Signature_IsPercentEncoded()
    {
        // 0xFB 0xFF -> "+/8=" in base64: every special character must be escaped.
        Assert.Equal("%2B%2F8%3D", SignatureEncoding.ToWire(KeyAlgorithm.Ed25519, new byte[] { 0xFB, 0xFF }));
    }
}
