namespace CalRec.Data;

/// <summary>
/// Applies a <see cref="BadRecordPolicy"/> while reading: with <see cref="BadRecordPolicy.Fail"/> the first problem
/// throws; with <see cref="BadRecordPolicy.Skip"/> problems are counted per file and field and the first few are kept
/// for the dataset's warnings.
/// </summary>
internal sealed class BadRecords(BadRecordPolicy policy)
{
    private const int Examples = 5;
    private readonly SortedDictionary<string, long> _counts = new(StringComparer.Ordinal);
    private readonly List<string> _examples = [];

    public BadRecordPolicy Policy => policy;

    /// <summary>Reports a bad record: throws, or counts it so the caller can skip it.</summary>
    public void Report(string file, long line, string field, string problem)
    {
        if (policy == BadRecordPolicy.Fail)
        {
            throw new DataFormatException(file, line, field, problem);
        }

        string key = $"{Path.GetFileName(file)} field '{field}'";
        _counts[key] = _counts.GetValueOrDefault(key) + 1;
        if (_examples.Count < Examples)
        {
            _examples.Add($"{file}:{line}: field '{field}': {problem}");
        }
    }

    /// <summary>One summary line with the counts, then the first offenders.</summary>
    public IEnumerable<string> Warnings()
    {
        if (_counts.Count == 0)
        {
            yield break;
        }

        yield return $"{_counts.Values.Sum()} bad records skipped ({string.Join(", ", _counts.Select(kv => $"{kv.Key}: {kv.Value}"))}); first:";
        foreach (string e in _examples)
        {
            yield return "  " + e;
        }
    }
}
