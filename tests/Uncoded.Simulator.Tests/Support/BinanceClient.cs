using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Uncoded.Simulator.Hosting;

namespace Uncoded.Simulator.Tests.Support;

/// <summary>One HTTP answer of the simulator.</summary>
internal sealed record Answer(int Status, string Body, HttpResponseHeaders Headers)
{
    public JsonElement Json => JsonDocument.Parse(Body).RootElement;

    public int Code => Json.GetProperty("code").GetInt32();

    public string Msg => Json.GetProperty("msg").GetString()!;

    public string Get(string property) => Json.GetProperty(property).ToString();

    public decimal Dec(string property) => decimal.Parse(Json.GetProperty(property).GetString()!, System.Globalization.CultureInfo.InvariantCulture);

    public string? Header(string name) => Headers.TryGetValues(name, out var values) ? values.First() : null;

    public override string ToString() => $"HTTP {Status} {Body}";
}

/// <summary>
/// A raw Binance REST client over real HTTP: builds the percent-encoded payload once, signs exactly
/// that string with the test key's tool, sends exactly that string. Optionally connects from another
/// loopback address (127.0.0.2) to act as another machine.
/// </summary>
internal sealed class BinanceClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly SimulatorHost _host;

    public BinanceClient(SimulatorHost host, TestKey? key = null, IPAddress? localAddress = null, TimeSpan? timeout = null)
    {
        _host = host;
        Key = key;
        var handler = new SocketsHttpHandler();
        if (localAddress is not null)
        {
            handler.ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    socket.Bind(new IPEndPoint(localAddress, 0));
                    await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            };
        }
        _http = new HttpClient(handler) { BaseAddress = host.BaseAddress, Timeout = timeout ?? TimeSpan.FromSeconds(30) };
    }

    public TestKey? Key { get; }

    /// <summary>Joins name/value pairs into a query string, each value percent-encoded (RFC 3986).</summary>
    public static string Query(params (string Name, string Value)[] parameters) =>
        string.Join('&', parameters.Select(p => p.Name + "=" + Uri.EscapeDataString(p.Value)));

    public Task<Answer> PublicAsync(string pathAndQuery) => SendAsync(HttpMethod.Get, pathAndQuery, null, null);

    /// <summary>
    /// A SIGNED request: <paramref name="query"/> gets <c>timestamp</c> (the exchange clock unless
    /// given), the payload (query + body) is signed, and <c>signature</c> goes last in the query,
    /// or in the body when there is one.
    /// </summary>
    public async Task<Answer> SignedAsync(HttpMethod method, string path, string query, string? body = null, long? timestamp = null,
        Func<string, string>? tamperPayload = null, Func<string, string>? tamperSignature = null)
    {
        var key = Key ?? throw new InvalidOperationException("no key");
        var ts = timestamp ?? _host.Clock.UnixMs;
        query = string.IsNullOrEmpty(query) ? $"timestamp={ts}" : $"{query}&timestamp={ts}";
        var signature = await key.Sign(query + (body ?? ""));
        signature = tamperSignature?.Invoke(signature) ?? signature;
        if (tamperPayload is not null)
        {
            query = tamperPayload(query);
        }
        return body is null
            ? await SendAsync(method, $"{path}?{query}&signature={signature}", null, key.ApiKey)
            : await SendAsync(method, $"{path}?{query}", $"{body}&signature={signature}", key.ApiKey);
    }

    public Task<Answer> OrderAsync(string query) => SignedAsync(HttpMethod.Post, "/api/v3/order", query);

    public async Task<Answer> SendAsync(HttpMethod method, string pathAndQuery, string? formBody, string? apiKey, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(method, pathAndQuery);
        if (apiKey is not null)
        {
            request.Headers.Add("X-MBX-APIKEY", apiKey);
        }
        if (formBody is not null)
        {
            request.Content = new StringContent(formBody, Encoding.UTF8, "application/x-www-form-urlencoded");
        }
        using var response = await _http.SendAsync(request, cancellationToken);
        return new Answer((int)response.StatusCode, await response.Content.ReadAsStringAsync(cancellationToken), response.Headers);
    }

    public void Dispose() => _http.Dispose();
}
