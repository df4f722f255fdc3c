using System.Globalization;

namespace Uncoded.Simulator.Api;

/// <summary>How Binance writes numbers: prices and quantities as decimal strings with 8 places.</summary>
internal static class Wire
{
    public static string Dec(decimal value) => value.ToString("F8", CultureInfo.InvariantCulture);

    /// <summary>Without trailing zeros (Binance writes percent-price multipliers this way: "5", "0.2").</summary>
    public static string Plain(decimal value) => (value / 1.000000000000000000000000000000000m).ToString(CultureInfo.InvariantCulture);
}
