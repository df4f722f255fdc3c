using System.CommandLine;
using System.Text;
using System.Text.Json;

namespace Uncoded.Client.Cli;

/// <summary>The <c>uncoded</c> command-line client. Exit codes: 0 signed, 1 usage, 5 refused or unreachable.</summary>
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
        var command = new Command("sign", "Ask the signer for a signature and print it as JSON.") { socket, keyId, method, path, payload };
        command.SetAction(async (parse, ct) =>
        {
            var text = parse.GetValue(payload)!;
            var bytes = text == "-" ? await ReadStdinAsync(ct).ConfigureAwait(false) : Encoding.UTF8.GetBytes(text);
            using var client = new SignerClient(parse.GetValue(socket)!);
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
        });
        return command;
    }

    private static async Task<byte[]> ReadStdinAsync(CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        await Console.OpenStandardInput().CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
        var bytes = buffer.ToArray();
        var length = bytes.Length;
        while (length > 0 && bytes[length - 1] is (byte)'\n' or (byte)'\r')
        {
            length--;
        }
        return bytes[..length];
    }
}
