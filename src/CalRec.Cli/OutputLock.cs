using System.Globalization;

namespace CalRec.Cli;

/// <summary>
/// One run per output: a run that writes <c>--out PATH</c> (and its checkpoint folder) holds <c>.PATH.lock</c> open
/// exclusively until it ends, its process id in <c>.PATH.lock.owner</c> (an exclusively held file cannot be read); a
/// second run for the same path is refused with that id. The operating system releases the lock when the process
/// dies, so a killed run never blocks the next one.
/// </summary>
internal sealed class OutputLock : IDisposable
{
    private readonly FileStream _stream;
    private readonly string _owner;

    private OutputLock(FileStream stream, string owner)
    {
        _stream = stream;
        _owner = owner;
    }

    /// <summary>Takes the lock of <paramref name="outputPath"/>, or throws naming the process that holds it.</summary>
    public static OutputLock Acquire(string outputPath)
    {
        string full = Path.GetFullPath(outputPath);
        string folder = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(folder);
        string path = Path.Combine(folder, $".{Path.GetFileName(full)}.lock");
        string owner = path + ".owner";
        try
        {
            var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 64, FileOptions.DeleteOnClose);
            File.WriteAllText(owner, Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
            return new OutputLock(stream, owner);
        }
        catch (IOException)
        {
            string holder = "another process";
            try
            {
                if (int.TryParse(File.ReadAllText(owner).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
                {
                    holder = $"process {pid}";
                }
            }
            catch (IOException)
            {
            }

            throw new OutputInUseException($"{outputPath}: {holder} is already writing this output (lock {path}); wait for it to finish or choose another --out.");
        }
    }

    /// <summary>Releases the lock (and removes the lock files).</summary>
    public void Dispose()
    {
        File.Delete(_owner);
        _stream.Dispose();
    }
}

/// <summary>Another run is writing the same output (a user error: exit code 2).</summary>
internal sealed class OutputInUseException(string message) : IOException(message);
