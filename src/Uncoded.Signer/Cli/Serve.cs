using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging.Console;
using Uncoded.Signer.Audit;
using Uncoded.Signer.Guards;
using Uncoded.Signer.Hardening;
using Uncoded.Signer.Service;
using Uncoded.Signer.Transport;

namespace Uncoded.Signer.Cli;

/// <summary><c>uncoded-signer serve --config FILE</c>: the sidecar itself.</summary>
internal static class Serve
{
    public const string EnvPrefix = "UNCODED_";

    public static async Task<int> RunAsync(FileInfo configFile, CancellationToken cancellationToken)
    {
        // First of all: a runtime without the diagnostics port (this call returns only once it is
        // off, or with why it could not be turned off).
        var diagnosticsError = DiagnosticsPort.DisableByReexec();
        if (!configFile.Exists)
        {
            throw new SignerException(ErrorKind.Configuration, "CONFIG_NOT_FOUND", $"config file '{configFile.FullName}' does not exist");
        }
        // reloadConfigOnChange=false: the default appsettings sources (cleared below) would otherwise
        // leave a FileSystemWatcher on the content root (the config directory, often holding the
        // audit log and state directory), waking a thread for every audit write and state rename.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = ["--hostBuilder:reloadConfigOnChange=false"],
            ContentRootPath = configFile.DirectoryName,
        });
        builder.Configuration.Sources.Clear();
        try
        {
            builder.Configuration.AddJsonFile(configFile.FullName, optional: false, reloadOnChange: false);
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or System.Text.Json.JsonException)
        {
            // Malformed JSON or a key given twice: a configuration error (exit 3), like any other.
            throw new SignerException(ErrorKind.Configuration, "BAD_CONFIG", $"config file '{configFile.FullName}' cannot be read: {(e.InnerException ?? e).Message}");
        }
        builder.Configuration.AddEnvironmentVariables(EnvPrefix);
        ConfigureLogging(builder.Logging, builder.Configuration);

        var settings = SignerSettings.From(builder.Configuration);
        using var bootLoggers = LoggerFactory.Create(l => ConfigureLogging(l, builder.Configuration));
        var bootLog = bootLoggers.CreateLogger("Uncoded.Signer");

        // Before any key is in memory: no core dumps, no same-uid ptrace; refuse writable config, socket, audit or state directories.
        ProcessHardening.LockDownProcess(bootLog, diagnosticsError);
        ProcessHardening.CheckPermissions(configFile, settings);

        // Refuse a live socket or a log in use before unsealing anything or presenting a PIN.
        UnixSocketTransport.PrepareSocketPath(settings.SocketPath, bootLog);
        var time = TimeProvider.System;
        using var audit = AuditLog.Open(settings.AuditPath, time, bootLog, settings.AuditRotateAtBytes);
        using var guards = GuardEngine.Open(settings, time, bootLog, audit);
        using var refusals = new RefusalBudget(settings.MaxRefusalsPerMinutePerPeer, audit, time, bootLog);
        foreach (var key in settings.Keys.Values)
        {
            LogGuards(bootLog, key);
        }

        using var keys = KeyRing.Load(settings, bootLog);
        foreach (var key in keys.All)
        {
            Log.KeyLoaded(bootLog, key.Id, Backends.SignatureEncoding.Name(key.Key.Algorithm), settings.Keys[key.Id].BackendName);
        }
        ProcessHardening.ReportKeyMemory(bootLog);

        builder.Services.AddSingleton(settings);
        builder.Services.AddSingleton(keys);
        builder.Services.AddSingleton(time);
        builder.Services.AddSingleton(audit);
        builder.Services.AddSingleton(guards);
        builder.Services.AddSingleton(refusals);
        builder.Services.AddSingleton<SignPipeline>();
        builder.Services.AddGrpc(o =>
        {
            o.MaxReceiveMessageSize = UnixSocketTransport.MaxMessageBytes;
            o.MaxSendMessageSize = 4096;
            o.EnableDetailedErrors = false;
        });
        builder.WebHost.ConfigureKestrel(k => UnixSocketTransport.Configure(k, settings, bootLoggers));
        builder.WebHost.UseSockets(o => o.Backlog = UnixSocketTransport.Backlog);

        await using var app = builder.Build();
        app.MapGrpcService<SignerService>();

        await UnixSocketTransport.BindWithUmaskAsync(() => app.StartAsync(cancellationToken)).ConfigureAwait(false);
        try
        {
            Log.Listening(bootLog, settings.SocketPath, string.Join(",", settings.Keys.Keys),
                string.Join(",", settings.AllowedUids), string.Join(",", settings.AllowedGids));
            await app.WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
            File.Delete(settings.SocketPath);
            if (!keys.Close())
            {
                Log.KeysStillInUse(bootLog, (int)KeyRing.DrainTimeout.TotalSeconds);
            }
        }
        return 0;
    }

    private static void ConfigureLogging(ILoggingBuilder logging, IConfiguration configuration)
    {
        logging.ClearProviders();
        logging.AddConfiguration(configuration.GetSection("Logging"));
        logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
            o.UseUtcTimestamp = true;
        });
        logging.Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        // ASP.NET Core and gRPC log every request at Information: a synchronous console write per
        // signature. The signer logs its own events.
        logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        // One warning per connection over MaxConnections: a flood would flood the log too.
        logging.AddFilter("Microsoft.AspNetCore.Server.Kestrel.Connections", LogLevel.Error);
        logging.AddFilter("Grpc", LogLevel.Warning);
    }

    private static void LogGuards(ILogger logger, KeySettings key)
    {
        var g = key.Guard;
        Log.GuardsConfigured(logger, key.Id, string.Join(", ", g.Endpoints.Keys), string.Join(", ",
            g.Symbols.Select(s => $"{s.Key} (≤ {s.Value.MaxOrderNotional.ToString(System.Globalization.CultureInfo.InvariantCulture)}/order)")),
            string.Join(", ", g.OrderTypes), g.MaxDailyNotional.ToString(System.Globalization.CultureInfo.InvariantCulture),
            g.MaxClockSkewMs, g.MaxRecvWindowMs, g.SignaturesPerMinute, g.SignaturesPerMinutePerPeer);
    }
}
