using System.Diagnostics;
using System.Globalization;

namespace CalRec.Recommenders.Persistence;

/// <summary>
/// Names of the temporary files and folders a model save stages beside its target (<c>.NAME.KIND-PID-GUID</c>, hidden,
/// on the same file system so the final rename is atomic), and the cleanup of those a killed save left behind: the
/// next save to the same path removes every staging entry whose process is no longer running.
/// </summary>
internal static class StagingFiles
{
    /// <summary>A fresh staging name for a save to <paramref name="fullPath"/>.</summary>
    internal static string Create(string fullPath, string kind) =>
        Path.Combine(Path.GetDirectoryName(fullPath)!, $".{Path.GetFileName(fullPath)}.{kind}-{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}-{Guid.NewGuid():N}");

    /// <summary>Removes the staging files and folders of saves to <paramref name="fullPath"/> whose process is gone.</summary>
    internal static void RemoveStale(string fullPath)
    {
        string folder = Path.GetDirectoryName(fullPath)!;
        if (!Directory.Exists(folder))
        {
            return;
        }

        string prefix = $".{Path.GetFileName(fullPath)}.";
        foreach (string entry in Directory.EnumerateFileSystemEntries(folder, prefix + "*"))
        {
            string[] parts = Path.GetFileName(entry)[prefix.Length..].Split('-');
            if (parts.Length != 3 || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int pid) || Alive(pid))
            {
                continue;
            }

            try
            {
                if (Directory.Exists(entry))
                {
                    Directory.Delete(entry, recursive: true);
                }
                else
                {
                    File.Delete(entry);
                }
            }
            catch (IOException)
            {
                // Another save removing it at the same moment, or a file still open: the next save tries again.
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }

    private static bool Alive(int pid)
    {
        try
        {
            using Process process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }
}
