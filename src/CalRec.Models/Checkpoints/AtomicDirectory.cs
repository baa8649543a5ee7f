namespace CalRec.Models.Checkpoints;

/// <summary>Replaces a folder as a whole: its new contents are written to a sibling temporary folder, then swapped in.</summary>
public static class AtomicDirectory
{
    /// <summary>
    /// Calls <paramref name="fill"/> with an empty temporary folder, then replaces <paramref name="target"/> with it.
    /// If <paramref name="fill"/> throws, <paramref name="target"/> is untouched. A crash between the two renames leaves
    /// the previous contents in <c>target.old-*</c> next to it.
    /// </summary>
    public static void Write(string target, Action<string> fill)
    {
        string full = Path.GetFullPath(target);
        string parent = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(parent);
        string tmp = Path.Combine(parent, $".{Path.GetFileName(full)}.tmp-{Guid.NewGuid():N}");
        Directory.CreateDirectory(tmp);
        try
        {
            fill(tmp);
            string backup = full + $".old-{Guid.NewGuid():N}";
            bool hadOld = Directory.Exists(full);
            if (hadOld)
            {
                Directory.Move(full, backup);
            }

            Directory.Move(tmp, full);
            if (hadOld)
            {
                Directory.Delete(backup, recursive: true);
            }
        }
        catch
        {
            if (Directory.Exists(tmp))
            {
                Directory.Delete(tmp, recursive: true);
            }

            throw;
        }
    }
}
