using System.Text.Json;
using System.Text.Json.Serialization;
using Uncoded.Simulator.Faults;
using Uncoded.Simulator.Market;

namespace Uncoded.Simulator.Scenarios;

/// <summary>
/// Everything the simulated exchange starts with: clock, rate limits, accounts, API keys, symbols
/// (filters, books, resting orders) and faults. Loaded from JSON or YAML (the same fields);
/// unknown fields are errors.
/// </summary>
public sealed record Scenario
{
    public string Name { get; init; } = "custom";

    public string? Description { get; init; }

    public ClockSpec? Clock { get; init; }

    public RateLimitSpec RateLimits { get; init; } = new();

    public IReadOnlyList<AccountSpec> Accounts { get; init; } = [];

    public IReadOnlyList<ApiKeySpec> ApiKeys { get; init; } = [];

    public IReadOnlyList<SymbolSpec> Symbols { get; init; } = [];

    public IReadOnlyList<FaultSpec> Faults { get; init; } = [];

    internal static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        NumberHandling = JsonNumberHandling.AllowReadingFromString,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        AllowOutOfOrderMetadataProperties = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>The directory holding the scenarios shipped with the simulator.</summary>
    public static string ShippedDirectory => Path.Combine(AppContext.BaseDirectory, "Scenarios");

    public static IReadOnlyList<string> ShippedNames =>
        Directory.Exists(ShippedDirectory)
            ? Directory.GetFiles(ShippedDirectory, "*.json").Select(Path.GetFileNameWithoutExtension).OfType<string>().Order(StringComparer.Ordinal).ToList()
            : [];

    /// <summary>
    /// Loads a shipped scenario by name (<c>liquid</c>) or a scenario file by path: YAML when the
    /// name ends in <c>.yaml</c> or <c>.yml</c>, JSON otherwise.
    /// </summary>
    public static Scenario Load(string nameOrPath)
    {
        if (File.Exists(nameOrPath))
        {
            var text = File.ReadAllText(nameOrPath);
            return IsYamlPath(nameOrPath) ? ParseYaml(text) : Parse(text);
        }
        var shipped = Path.Combine(ShippedDirectory, nameOrPath + ".json");
        if (!nameOrPath.Contains('/', StringComparison.Ordinal) && File.Exists(shipped))
        {
            return Parse(File.ReadAllText(shipped));
        }
        throw new ScenarioException($"no scenario file '{nameOrPath}' and no shipped scenario of that name (shipped: {string.Join(", ", ShippedNames)})");
    }

    public static bool IsYamlPath(string path) =>
        path.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".yml", StringComparison.OrdinalIgnoreCase);

    /// <summary>A scenario written in YAML: the same fields and rules as <see cref="Parse"/>.</summary>
    public static Scenario ParseYaml(string yaml) => Parse(ScenarioYaml.ToJson(yaml), "YAML");

    public static Scenario Parse(string json) => Parse(json, "JSON");

    private static Scenario Parse(string json, string format)
    {
        Scenario? scenario;
        try
        {
            scenario = JsonSerializer.Deserialize<Scenario>(json, Json);
        }
        catch (JsonException e)
        {
            throw new ScenarioException($"invalid scenario {format}: {e.Message}");
        }
        if (scenario is null)
        {
            throw new ScenarioException($"invalid scenario {format}: null");
        }
        scenario.Validate();
        return scenario;
    }

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    private void Validate()
    {
        var accounts = new HashSet<string>(StringComparer.Ordinal);
        foreach (var account in Accounts)
        {
            if (string.IsNullOrEmpty(account.Id) || !accounts.Add(account.Id))
            {
                throw new ScenarioException($"account id '{account.Id}' is empty or duplicated");
            }
            if (account.Balances.Values.Any(v => v < 0))
            {
                throw new ScenarioException($"account '{account.Id}' has a negative balance");
            }
        }
        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var key in ApiKeys)
        {
            if (!Auth.ApiKeyFormat.IsValid(key.ApiKey))
            {
                throw new ScenarioException($"API key '{key.ApiKey}' must be 64 letters or digits (Binance's format)");
            }
            if (!keys.Add(key.ApiKey))
            {
                throw new ScenarioException($"API key '{key.ApiKey}' is duplicated");
            }
            if (!accounts.Contains(key.Account))
            {
                throw new ScenarioException($"API key '{key.ApiKey}' names unknown account '{key.Account}'");
            }
            if (!key.Permissions.Contains("reading", StringComparer.Ordinal))
            {
                throw new ScenarioException($"API key '{key.ApiKey}' needs the 'reading' permission: every Binance API key can read");
            }
            if (key.Permissions.Contains("withdrawals", StringComparer.Ordinal) && key.IpAllowlist.Count == 0)
            {
                throw new ScenarioException($"API key '{key.ApiKey}' has 'withdrawals' without an ipAllowlist: Binance enables withdrawals only on keys restricted to trusted IPs");
            }
            var hasMaterial = key.Type == KeyType.Hmac ? !string.IsNullOrEmpty(key.Secret) : !string.IsNullOrEmpty(key.PublicKeyPem);
            if (!hasMaterial)
            {
                throw new ScenarioException($"API key '{key.ApiKey}' of type {key.Type} needs {(key.Type == KeyType.Hmac ? "secret" : "publicKeyPem")}");
            }
        }
        var symbols = new HashSet<string>(StringComparer.Ordinal);
        foreach (var symbol in Symbols)
        {
            if (string.IsNullOrEmpty(symbol.Symbol) || !symbols.Add(symbol.Symbol))
            {
                throw new ScenarioException($"symbol '{symbol.Symbol}' is empty or duplicated");
            }
            if (symbol.AllowedSelfTradePreventionModes.Append(symbol.DefaultSelfTradePreventionMode).Any(m => EnumWire.ParseStp(m) is null))
            {
                throw new ScenarioException($"symbol '{symbol.Symbol}': self-trade prevention modes are NONE, EXPIRE_TAKER, EXPIRE_MAKER, EXPIRE_BOTH");
            }
            if (symbol.LastPrice <= 0)
            {
                throw new ScenarioException($"symbol '{symbol.Symbol}' needs a positive lastPrice");
            }
            foreach (var order in symbol.Orders)
            {
                if (!accounts.Contains(order.Account))
                {
                    throw new ScenarioException($"resting order on {symbol.Symbol} names unknown account '{order.Account}'");
                }
            }
        }
    }
}

public sealed class ScenarioException(string message) : Exception(message);

public sealed record ClockSpec
{
    /// <summary>Freezes the exchange clock at this Unix time (ms), e.g. to replay a signed request.</summary>
    public long? FixedUnixMs { get; init; }

    /// <summary>Exchange clock = system clock + this (ms): a skewed server clock.</summary>
    public long OffsetMs { get; init; }
}

/// <summary>Binance's defaults (6000 weight/min, 100 orders/10 s, 200000 orders/day); scenarios shrink them for tests.</summary>
public sealed record RateLimitSpec
{
    public int RequestWeightPerMinute { get; init; } = 6000;

    public int OrdersPer10Seconds { get; init; } = 100;

    public int OrdersPerDay { get; init; } = 200000;

    /// <summary>Requests an IP may still send after a 429 (within the same window) before it is banned (418).</summary>
    public int RejectionsBeforeBan { get; init; } = 5;

    public int BanSeconds { get; init; } = 120;
}

public sealed record AccountSpec
{
    public string Id { get; init; } = "";

    public IReadOnlyDictionary<string, decimal> Balances { get; init; } = new Dictionary<string, decimal>();
}

[JsonConverter(typeof(JsonStringEnumConverter<KeyType>))]
public enum KeyType
{
    [JsonStringEnumMemberName("HMAC")]
    Hmac,
    [JsonStringEnumMemberName("RSA")]
    Rsa,
    [JsonStringEnumMemberName("ED25519")]
    Ed25519,
}

public sealed record ApiKeySpec
{
    /// <summary>The X-MBX-APIKEY value: 64 letters or digits, like Binance's.</summary>
    public string ApiKey { get; init; } = "";

    public string Account { get; init; } = "";

    public KeyType Type { get; init; } = KeyType.Hmac;

    /// <summary>HMAC secret (ASCII, used as the HMAC key as is).</summary>
    public string? Secret { get; init; }

    /// <summary>RSA or Ed25519 public key, PEM (SPKI, "BEGIN PUBLIC KEY").</summary>
    public string? PublicKeyPem { get; init; }

    /// <summary>reading, spotTrading, withdrawals, margin, futures, universalTransfer, internalTransfer, vanillaOptions.</summary>
    public IReadOnlyList<string> Permissions { get; init; } = ["reading"];

    /// <summary>IP addresses allowed to use the key; empty means unrestricted.</summary>
    public IReadOnlyList<string> IpAllowlist { get; init; } = [];
}

public sealed record SymbolSpec
{
    public string Symbol { get; init; } = "";

    public string Status { get; init; } = "TRADING";

    public string BaseAsset { get; init; } = "";

    public string QuoteAsset { get; init; } = "";

    public int BaseAssetPrecision { get; init; } = 8;

    public int QuoteAssetPrecision { get; init; } = 8;

    public IReadOnlyList<string> OrderTypes { get; init; } = ["LIMIT", "LIMIT_MAKER", "MARKET"];

    public bool QuoteOrderQtyMarketAllowed { get; init; } = true;

    /// <summary>Self-trade prevention applied when an order does not name one (Binance's usual default).</summary>
    public string DefaultSelfTradePreventionMode { get; init; } = "EXPIRE_MAKER";

    public IReadOnlyList<string> AllowedSelfTradePreventionModes { get; init; } = ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"];

    /// <summary>Price of the last trade before the scenario starts.</summary>
    public decimal LastPrice { get; init; }

    /// <summary>The average price the percent-price and market-notional filters use; defaults to lastPrice.</summary>
    public decimal? AvgPrice { get; init; }

    /// <summary>24 h statistics before the scenario starts; trades in the simulator add to them.</summary>
    public TickerSpec Ticker { get; init; } = new();

    public IReadOnlyList<SymbolFilter> Filters { get; init; } = [];

    /// <summary>Anonymous liquidity, owned by the built-in market-maker account.</summary>
    public BookSpec Book { get; init; } = new();

    /// <summary>Resting orders owned by scenario accounts (their balances are locked for them).</summary>
    public IReadOnlyList<RestingOrderSpec> Orders { get; init; } = [];
}

public sealed record TickerSpec
{
    public decimal? OpenPrice { get; init; }

    public decimal? HighPrice { get; init; }

    public decimal? LowPrice { get; init; }

    public decimal Volume { get; init; }

    public decimal QuoteVolume { get; init; }
}

public sealed record BookSpec
{
    /// <summary>Levels as [price, quantity] pairs of decimal strings.</summary>
    public IReadOnlyList<decimal[]> Bids { get; init; } = [];

    public IReadOnlyList<decimal[]> Asks { get; init; } = [];

    /// <summary>Generates a deep book: levels bid/ask pairs spaced by step from the best bid/ask.</summary>
    public LadderSpec? Ladder { get; init; }
}

public sealed record LadderSpec
{
    public decimal BestBid { get; init; }

    public decimal BestAsk { get; init; }

    public decimal Step { get; init; }

    public int Levels { get; init; }

    public decimal Quantity { get; init; }
}

public sealed record RestingOrderSpec
{
    public string Account { get; init; } = "";

    public string Side { get; init; } = "SELL";

    public decimal Price { get; init; }

    public decimal Quantity { get; init; }

    public string? ClientOrderId { get; init; }
}
