namespace Kommune.Engine.Tests.Support;

/// <summary>Finds the real labelled sensor data in ../shared/data beside the repository.</summary>
internal static class SharedData
{
    public static string NabFile(string relativePath) => DataFile("nab", relativePath);

    /// <summary>A file of ../shared/data/nab-more (the other kinds of NAB series).</summary>
    public static string NabMoreFile(string relativePath) => DataFile("nab-more", relativePath);

    private static string DataFile(string folder, string relativePath)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Engine.sln")))
            {
                var path = Path.Combine(dir.FullName, "..", "shared", "data", folder, relativePath);
                return File.Exists(path)
                    ? path
                    : throw new FileNotFoundException($"The shared sensor data is missing: {Path.GetFullPath(path)}");
            }
        }

        throw new DirectoryNotFoundException("Engine.sln not found above the test directory.");
    }
}
