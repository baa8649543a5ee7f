
namespace CalRec.Recommenders.Persistence;

/// <summary>A model file that cannot be read: not a model zip, truncated or corrupt, or written by a newer format version.</summary>
public sealed class ModelFormatException : Exception
{
    /// <summary>Creates the error for <paramref name="path"/>.</summary>
    public ModelFormatException(string path, string problem, Exception? inner = null)
        : base($"{path}: {problem}", inner)
    {
        Path = path;
    }

    /// <summary>The model file.</summary>
    public string Path { get; }
}
