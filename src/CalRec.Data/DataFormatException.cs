namespace CalRec.Data;

/// <summary>Bad input data, with the file, 1-based line and field where it was found.</summary>
public sealed class DataFormatException : Exception
{
    /// <summary>Creates the error.</summary>
    public DataFormatException(string file, long line, string field, string problem)
        : base($"{file}:{line}: field '{field}': {problem}")
    {
        File = file;
        Line = line;
        Field = field;
        Problem = problem;
    }

    /// <summary>The file.</summary>
    public string File { get; }

    /// <summary>1-based line number.</summary>
    public long Line { get; }

    /// <summary>The field (column or JSON key).</summary>
    public string Field { get; }

    /// <summary>What is wrong.</summary>
    public string Problem { get; }
}
