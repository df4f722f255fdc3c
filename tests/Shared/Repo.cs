using System.Reflection;

namespace Uncoded.Testing;

/// <summary>Paths of the real binaries the functional tests and the benchmark start (built by the same configuration).</summary>
internal static class Repo
{
    public static string Root { get; } = FindRoot();

    public static string Configuration { get; } =
        typeof(Repo).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";

    public static string SignerDll => Binary("Uncoded.Signer", "uncoded-signer.dll");

    public static string ClientDll => Binary("Uncoded.Client", "uncoded.dll");

    public static string SimulatorDll => Binary("Uncoded.Simulator", "uncoded-sim.dll");

    private static string Binary(string project, string file)
    {
        var path = Path.Combine(Root, "src", project, "bin", Configuration, "net10.0", file);
        return File.Exists(path) ? path : throw new FileNotFoundException($"build {project} first ({path} missing)");
    }

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Uncoded.sln")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException("Uncoded.sln not found above the test binaries");
    }
}
