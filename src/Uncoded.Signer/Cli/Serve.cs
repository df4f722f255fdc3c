using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging.Console;
using Uncoded.Signer.Service;
using Uncoded.Signer.Transport;

namespace Uncoded.Signer.Cli;

/// <summary><c>uncoded-signer serve --config FILE</c>: the sidecar itself.</summary>
internal static class Serve
{
    public const string EnvPrefix = "UNCODED_";

    public static async Task<int> RunAsync(FileInfo configFile, CancellationToken cancellationToken)
    {
        if (!configFile.Exists)
        {
            throw new SignerException(ErrorKind.Configuration, "CONFIG_NOT_FOUND", $"config file '{configFile.FullName}' does not exist");
        }
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = configFile.DirectoryName });
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddJsonFile(configFile.FullName, optional: false, reloadOnChange: false);
        builder.Configuration.AddEnvironmentVariables(EnvPrefix);
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
            o.UseUtcTimestamp = true;
        });
        builder.Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);

        var settings = SignerSettings.From(builder.Configuration);
        using var bootLoggers = LoggerFactory.Create(l => l.AddSimpleConsole(o => o.SingleLine = true)
            .AddConfiguration(builder.Configuration.GetSection("Logging"))
            .Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace));
        var bootLog = bootLoggers.CreateLogger("Uncoded.Signer");

        using var keys = KeyRing.Load(settings, bootLog);
        foreach (var key in keys.All)
        {
            Log.KeyLoaded(bootLog, key.Id, Backends.SignatureEncoding.Name(key.Key.Algorithm), settings.Keys[key.Id].BackendName);
        }
        UnixSocketTransport.PrepareSocketPath(settings.SocketPath, bootLog);

        builder.Services.AddSingleton(settings);
        builder.Services.AddSingleton(keys);
        builder.Services.AddSingleton<SignPipeline>();
        builder.Services.AddGrpc(o =>
        {
            o.MaxReceiveMessageSize = UnixSocketTransport.MaxRequestBytes;
            o.MaxSendMessageSize = 4096;
            o.EnableDetailedErrors = false;
        });
        builder.WebHost.ConfigureKestrel(k => UnixSocketTransport.Configure(k, settings, bootLoggers));

        await using var app = builder.Build();
        app.MapGrpcService<SignerService>();

        await UnixSocketTransport.BindWithUmaskAsync(() => app.StartAsync(cancellationToken)).ConfigureAwait(false);
        try
        {
            File.SetUnixFileMode(settings.SocketPath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite);
            Log.Listening(bootLog, settings.SocketPath, string.Join(",", settings.Keys.Keys),
                string.Join(",", settings.AllowedUids), string.Join(",", settings.AllowedGids));
            await app.WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
            File.Delete(settings.SocketPath);
        }
        return 0;
    }
}
