namespace Kommune.Engine.Tests.Support;

/// <summary>Files of this repository (the shipped deploy/ configuration), found above the test's directory.</summary>
internal static class RepositoryFiles
{
    public static string Root
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(System.IO.Path.Combine(dir.FullName, "Engine.sln")))
                {
                    return dir.FullName;
                }
            }

            throw new DirectoryNotFoundException("Engine.sln not found above the test directory.");
        }
    }

    public static string Path(params string[] parts) => System.IO.Path.Combine([Root, .. parts]);
}
