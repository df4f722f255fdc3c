using System.Reflection;

namespace Uncoded.Simulator.Tests.Support;

/// <summary>Paths of the real binaries the functional tests start (built by the same configuration).</summary>
internal static class Repo
{
    public static string Root { get; } = FindRoot();

    public static string Configuration { get; } =
        typeof(Repo).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";

    public static string SimulatorDll
    {
        get
        {
            var path = Path.Combine(Root, "src", "Uncoded.Simulator", "bin", Configuration, "net10.0", "uncoded-sim.dll");
            return File.Exists(path) ? path : throw new FileNotFoundException($"build Uncoded.Simulator first ({path} missing)");
        }
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
