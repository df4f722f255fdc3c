using System.Text;
using Uncoded.Signer.Guards;

namespace Uncoded.Signer.Tests.Guards;

public sealed class PayloadParserTests
{
    [Theory]
    [InlineData("a=1&b=2")]
    [InlineData("newClientOrderId=xprice&price=1")]
    [InlineData("price=1&newClientOrderId=xPrice")]
    [InlineData("a=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96")]
    [InlineData("a=-_.~")]
    [InlineData("a=x%2By%2F%3D%20z")]
    public void Parse_CanonicalPayload_Accepted(string payload)
    {
        var decision = PayloadParser.Parse(Encoding.ASCII.GetBytes(payload), out var parsed);
        Assert.True(decision.IsAllowed, decision.Message);
        foreach (var (name, value) in parsed!.Parameters)
        {
            // Round trip: re-encoding the decoded values gives back exactly the bytes we signed.
            Assert.Contains($"{Uri.EscapeDataString(name)}={Uri.EscapeDataString(value)}", payload, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Parse_DecodesPercentEscapes()
    {
        PayloadParser.Parse("a=%EF%BC%91"u8, out var parsed);
        Assert.Equal("１", parsed!["a"]);
    }

    [Theory]
    [InlineData("price=1&newClientOrderId=xprice", "AMBIGUOUS_VALUE")]
    [InlineData("price=1&newClientOrderId=price", "AMBIGUOUS_VALUE")]
    [InlineData("price=1&newClientOrderId=xnewClientOrderId", "AMBIGUOUS_VALUE")]
    [InlineData("a=1&a=2", "DUPLICATE_PARAMETER")]
    [InlineData("a=1&A=2", "DUPLICATE_PARAMETER")]
    [InlineData("=1", "EMPTY_PARAMETER_NAME")]
    [InlineData("a=", "EMPTY_PARAMETER_VALUE")]
    [InlineData("a", "MALFORMED_PAYLOAD")]
    [InlineData("a=1&", "MALFORMED_PAYLOAD")]
    [InlineData("&a=1", "MALFORMED_PAYLOAD")]
    [InlineData("a=%", "BAD_PERCENT_ESCAPE")]
    [InlineData("a=%4", "BAD_PERCENT_ESCAPE")]
    [InlineData("a=%zz", "BAD_PERCENT_ESCAPE")]
    [InlineData("a=%C3%28", "BAD_PERCENT_ESCAPE")]
    [InlineData("a=%ef%bc%91", "NON_CANONICAL_ENCODING")]
    [InlineData("a=%41", "NON_CANONICAL_ENCODING")]
    [InlineData("a=b+c", "NON_CANONICAL_ENCODING")]
    [InlineData("a=b*c", "NON_CANONICAL_ENCODING")]
    [InlineData("a=b=c", "NON_CANONICAL_ENCODING")]
    [InlineData("a=%00", "CONTROL_CHARACTER")]
    [InlineData("a=%7F", "CONTROL_CHARACTER")]
    [InlineData("a=%C2%85", "CONTROL_CHARACTER")]
    [InlineData("signature=00", "SIGNATURE_PARAMETER")]
    [InlineData("SIGNATURE=00", "SIGNATURE_PARAMETER")]
    [InlineData("", "EMPTY_PAYLOAD")]
    public void Parse_Violation_Refused(string payload, string reason)
    {
        var decision = PayloadParser.Parse(Encoding.ASCII.GetBytes(payload), out var parsed);
        Assert.Equal(reason, decision.Reason);
        Assert.Equal("payload", decision.Rule);
        Assert.Null(parsed);
    }

    [Fact]
    public void Parse_OverFourKiB_Refused()
    {
        var decision = PayloadParser.Parse(Encoding.ASCII.GetBytes("a=" + new string('x', 4095)), out _);
        Assert.Equal("PAYLOAD_TOO_LARGE", decision.Reason);
        Assert.True(PayloadParser.Parse(Encoding.ASCII.GetBytes("a=" + new string('x', 4094)), out _).IsAllowed);
    }

    [Fact]
    public void Deny_ToException_CarriesRuleObservedLimit()
    {
        var e = GuardDecision.Deny(Service.ErrorKind.Denied, "X", "rule", "seen", "max", "msg").ToException();
        Assert.Equal(new Dictionary<string, string> { ["rule"] = "rule", ["observed"] = "seen", ["limit"] = "max" }, e.Metadata);
        Assert.Equal("X", e.Reason);
    }
}
