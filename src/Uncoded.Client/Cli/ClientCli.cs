using System.CommandLine;
using System.Text;
using System.Text.Json;

namespace Uncoded.Client.Cli;

/// <summary>
/// The <c>uncoded</c> command-line client. Exit codes: 0 signed, 1 usage (including a bad
/// socket path or a payload over 4 KiB), 4 signer unreachable or no answer in time (may be
/// retried; the call may have been signed), 5 refused (retrying gets the same answer).
/// </summary>
internal static class ClientCli
{
    public static Task<int> RunAsync(string[] args)
    {
        var root = new RootCommand("Uncoded client.");
        root.Subcommands.Add(SignCommand());
        return root.Parse(args).InvokeAsync();
    }

    private static Command SignCommand()
    {
        var socket = new Option<string>("--socket") { Description = "signer Unix socket", DefaultValueFactory = _ => "/run/uncoded/signer.sock" };
        var keyId = new Option<string>("--key-id") { Description = "configured key id", Required = true };
        var method = new Option<string>("--method") { Description = "HTTP method", DefaultValueFactory = _ => "POST" };
        var path = new Option<string>("--path") { Description = "request path", DefaultValueFactory = _ => "/api/v3/order" };
        var payload = new Option<string>("--payload") { Description = "the exact percent-encoded payload (query string + body); '-' reads stdin", Required = true };
        var timeout = new Option<double>("--timeout") { Description = "seconds to wait for the signer", DefaultValueFactory = _ => SignerClient.DefaultTimeout.TotalSeconds };
        var command = new Command("sign", "Ask the signer for a signature and print it as JSON.") { socket, keyId, method, path, payload, timeout };
        command.SetAction(async (parse, ct) =>
        {
            var socketPath = parse.GetValue(socket)!;
            if (!Path.IsPathRooted(socketPath) || Encoding.UTF8.GetByteCount(socketPath) > 107)
            {
                await Console.Error.WriteLineAsync($"error: --socket must be an absolute path of at most 107 bytes: '{socketPath}'").ConfigureAwait(false);
                return 1;
            }
            if (parse.GetValue(timeout) is not (> 0 and <= 3600) and var seconds)
            {
                await Console.Error.WriteLineAsync($"error: --timeout must be between 0 and 3600 seconds (is {seconds})").ConfigureAwait(false);
                return 1;
            }
            var text = parse.GetValue(payload)!;
            var bytes = text == "-" ? await ReadStdinAsync(ct).ConfigureAwait(false) : Encoding.UTF8.GetBytes(text);
            if (bytes is null || bytes.Length > MaxPayloadBytes)
            {
                await Console.Error.WriteLineAsync($"error: the payload is longer than {MaxPayloadBytes} bytes (the signer refuses it)").ConfigureAwait(false);
                return 1;
            }
            using var client = new SignerClient(socketPath, TimeSpan.FromSeconds(parse.GetValue(timeout)));
            try
            {
                var response = await client.SignAsync(parse.GetValue(keyId)!, parse.GetValue(method)!, parse.GetValue(path)!, bytes, ct).ConfigureAwait(false);
                Console.Out.WriteLine(JsonSerializer.Serialize(new
                {
                    signature = response.Signature,
                    apiKey = response.ApiKey,
                    algorithm = response.Algorithm,
                    auditSeq = response.AuditSeq,
                }));
                return 0;
            }
            catch (SignerRefusedException e)
            {
                await Console.Error.WriteLineAsync($"refused: {e.Code} {e.Reason}: {e.Message}").ConfigureAwait(false);
                return 5;
            }
            catch (SignerUnavailableException e)
            {
                await Console.Error.WriteLineAsync(
                    $"unavailable: cannot reach the signer at {socketPath} ({e.Code}: {e.Message}); is it running, and may this user open its socket? The request may have been signed if it timed out.").ConfigureAwait(false);
                return 4;
            }
        });
        return command;
    }

    /// <summary>The signer's own limit: a longer payload is refused, so it is not even sent.</summary>
    private const int MaxPayloadBytes = 4096;

    /// <summary>Reads stdin up to one byte past the limit (null when longer): a huge input is never buffered.</summary>
    private static async Task<byte[]?> ReadStdinAsync(CancellationToken cancellationToken)
    {
        var buffer = new byte[MaxPayloadBytes + 3];
        var stdin = Console.OpenStandardInput();
        var length = 0;
        int read;
        while (length < buffer.Length && (read = await stdin.ReadAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false)) > 0)
        {
            length += read;
        }
        if (length == buffer.Length)
        {
            return null;
        }
        while (length > 0 && buffer[length - 1] is (byte)'\n' or (byte)'\r')
        {
            length--;
        }
        return buffer[..length];
    }
}
