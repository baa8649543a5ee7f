using System.Text;

namespace CalRec.Text.Retrieval;

/// <summary>A search hit: document index (in order of addition) and BM25 score (higher is better).</summary>
/// <param name="Document">Index of the document.</param>
/// <param name="Score">BM25 score.</param>
public readonly record struct Bm25Hit(int Document, float Score);

/// <summary>
/// An in-memory BM25 index over short texts (item titles and attributes), with documents added incrementally. Scoring
/// matches SQLite FTS5's <c>bm25()</c> for a single column: idf = ln((N − n + 0.5) / (n + 0.5)), floored at 1e-6, and
/// score = Σ over query terms of idf · tf·(k1 + 1) / (tf + k1·(1 − b + b·|d| / avgdl)); a query term that appears twice
/// counts twice, and only documents containing at least one query term are returned. FTS5 reports the negated score.
/// Terms come from <see cref="WordAnalyzer"/>. Searching is thread-safe; adding is not (do not add while searching).
/// </summary>
public sealed class Bm25Index
{
    private const string Magic = "CALREC-BM25";
    private const int FormatVersion = 1;

    [ThreadStatic]
    private static Scratch? t_scratch;

    private readonly Dictionary<string, int> _termIds = new(StringComparer.Ordinal);
    private readonly List<Postings> _postings = [];
    private readonly List<int> _lengths = [];
    private long _totalLength;

    /// <summary>Creates an empty index with the BM25 parameters <paramref name="k1"/> and <paramref name="b"/> (FTS5's defaults).</summary>
    public Bm25Index(float k1 = 1.2f, float b = 0.75f)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(k1);
        if (b is < 0 or > 1)
        {
            throw new ArgumentOutOfRangeException(nameof(b), $"b must be in [0, 1], got {b}.");
        }

        K1 = k1;
        B = b;
    }

    /// <summary>Term-frequency saturation.</summary>
    public float K1 { get; }

    /// <summary>Length normalization.</summary>
    public float B { get; }

    /// <summary>Number of documents.</summary>
    public int Count => _lengths.Count;

    /// <summary>Number of distinct terms.</summary>
    public int TermCount => _termIds.Count;

    /// <summary>Adds a document and returns its index.</summary>
    public int Add(string text)
    {
        int doc = _lengths.Count;
        List<string> terms = WordAnalyzer.Terms(text);
        _lengths.Add(terms.Count);
        _totalLength += terms.Count;
        foreach (IGrouping<string, string> g in terms.GroupBy(t => t, StringComparer.Ordinal))
        {
            if (!_termIds.TryGetValue(g.Key, out int id))
            {
                id = _postings.Count;
                _termIds[g.Key] = id;
                _postings.Add(new Postings());
            }

            _postings[id].Add(doc, g.Count());
        }

        return doc;
    }

    /// <summary>Adds documents in order.</summary>
    public void AddRange(IEnumerable<string> texts)
    {
        foreach (string t in texts)
        {
            Add(t);
        }
    }

    /// <summary>The <paramref name="k"/> best documents for <paramref name="query"/>, best first (ties: lower index first).</summary>
    public IReadOnlyList<Bm25Hit> Search(string query, int k)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        Span<int> docs = k <= 256 ? stackalloc int[k] : new int[k];
        Span<float> scores = k <= 256 ? stackalloc float[k] : new float[k];
        int n = Search(query, docs, scores);
        var hits = new Bm25Hit[n];
        for (int i = 0; i < n; i++)
        {
            hits[i] = new Bm25Hit(docs[i], scores[i]);
        }

        return hits;
    }

    /// <summary>
    /// Writes the best documents for <paramref name="query"/> into <paramref name="documents"/> and their scores into
    /// <paramref name="scores"/> (as many as the shorter span holds), best first, and returns how many were written.
    /// Allocates nothing once the calling thread has searched before.
    /// </summary>
    public int Search(string query, Span<int> documents, Span<float> scores)
    {
        int k = Math.Min(documents.Length, scores.Length);
        if (k == 0 || Count == 0)
        {
            return 0;
        }

        Scratch s = t_scratch ??= new Scratch();
        s.Prepare(Count, query.Length);
        float avgdl = (float)((double)_totalLength / Count);
        Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> lookup = _termIds.GetAlternateLookup<ReadOnlySpan<char>>();
        int length = 0;
        for (int c = 0; c <= query.Length; c++)
        {
            if (c < query.Length && WordAnalyzer.IsTokenChar(query[c], out char folded))
            {
                s.Word[length++] = folded;
                continue;
            }

            if (length == 0 || (c < query.Length && WordAnalyzer.IsCombiningMark(query[c])))
            {
                continue;
            }

            bool known = lookup.TryGetValue(s.Word.AsSpan(0, length), out int id);
            length = 0;
            if (known)
            {
                Accumulate(_postings[id], avgdl, s);
            }
        }

        // Partial selection: keep the k best in a sorted prefix (k is small next to the number of matches).
        int found = 0;
        foreach (int doc in s.Touched)
        {
            float score = s.Accumulator[doc];
            s.Accumulator[doc] = 0f;
            if (found == k && !Better(score, doc, scores[k - 1], documents[k - 1]))
            {
                continue;
            }

            int pos = found < k ? found++ : k - 1;
            while (pos > 0 && Better(score, doc, scores[pos - 1], documents[pos - 1]))
            {
                scores[pos] = scores[pos - 1];
                documents[pos] = documents[pos - 1];
                pos--;
            }

            scores[pos] = score;
            documents[pos] = doc;
        }

        s.Touched.Clear();
        return found;
    }

    private void Accumulate(Postings p, float avgdl, Scratch s)
    {
        float idf = Idf(p.Count);
        for (int i = 0; i < p.Count; i++)
        {
            int doc = p.Documents[i];
            float tf = p.Frequencies[i];
            float norm = K1 * (1 - B + (B * _lengths[doc] / avgdl));
            if (s.Accumulator[doc] == 0f)
            {
                s.Touched.Add(doc);
            }

            s.Accumulator[doc] += idf * tf * (K1 + 1) / (tf + norm);
        }
    }

    /// <summary>The BM25 score of one document for <paramref name="query"/> (0 when no query term occurs in it).</summary>
    public float Score(string query, int document)
    {
        if ((uint)document >= (uint)Count)
        {
            throw new ArgumentOutOfRangeException(nameof(document), $"Document {document} is outside [0, {Count}).");
        }

        float avgdl = (float)((double)_totalLength / Count), total = 0f;
        foreach (string term in WordAnalyzer.Terms(query))
        {
            if (_termIds.TryGetValue(term, out int id))
            {
                Postings p = _postings[id];
                int i = Array.BinarySearch(p.Documents, 0, p.Count, document);
                if (i >= 0)
                {
                    float tf = p.Frequencies[i];
                    total += Idf(p.Count) * tf * (K1 + 1) / (tf + (K1 * (1 - B + (B * _lengths[document] / avgdl))));
                }
            }
        }

        return total;
    }

    /// <summary>Writes the index (parameters, document lengths, postings) in a versioned binary format.</summary>
    public void Save(Stream stream)
    {
        using var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        w.Write(Magic);
        w.Write(FormatVersion);
        w.Write(K1);
        w.Write(B);
        w.Write(_lengths.Count);
        foreach (int l in _lengths)
        {
            w.Write(l);
        }

        w.Write(_termIds.Count);
        foreach ((string term, int id) in _termIds.OrderBy(x => x.Value))
        {
            Postings p = _postings[id];
            w.Write(term);
            w.Write(p.Count);
            for (int i = 0; i < p.Count; i++)
            {
                w.Write(p.Documents[i]);
                w.Write(p.Frequencies[i]);
            }
        }
    }

    /// <summary>Reads an index written by <see cref="Save"/>; <paramref name="source"/> names the stream in errors.</summary>
    /// <exception cref="InvalidDataException">The stream is not a BM25 index, is from a newer version, or is truncated.</exception>
    public static Bm25Index Load(Stream stream, string source = "BM25 index")
    {
        try
        {
            using var r = new BinaryReader(stream, Encoding.UTF8, leaveOpen: true);
            if (r.ReadString() != Magic)
            {
                throw new InvalidDataException($"{source}: not a CalRec BM25 index.");
            }

            int version = r.ReadInt32();
            if (version > FormatVersion)
            {
                throw new InvalidDataException($"{source}: BM25 index format {version} is newer than this build reads ({FormatVersion}).");
            }

            var index = new Bm25Index(r.ReadSingle(), r.ReadSingle());
            int docs = r.ReadInt32();
            for (int i = 0; i < docs; i++)
            {
                int l = r.ReadInt32();
                index._lengths.Add(l);
                index._totalLength += l;
            }

            int terms = r.ReadInt32();
            for (int t = 0; t < terms; t++)
            {
                string term = r.ReadString();
                var p = new Postings();
                int n = r.ReadInt32();
                for (int i = 0; i < n; i++)
                {
                    int doc = r.ReadInt32();
                    if ((uint)doc >= (uint)docs)
                    {
                        throw new InvalidDataException($"{source}: posting of '{term}' names document {doc} of {docs}.");
                    }

                    p.Add(doc, r.ReadInt32());
                }

                index._termIds[term] = index._postings.Count;
                index._postings.Add(p);
            }

            return index;
        }
        catch (EndOfStreamException ex)
        {
            throw new InvalidDataException($"{source}: truncated BM25 index.", ex);
        }
    }

    private float Idf(int hits)
    {
        float idf = (float)Math.Log((Count - hits + 0.5) / (hits + 0.5));
        return idf <= 0f ? 1e-6f : idf;
    }

    private static bool Better(float score, int doc, float otherScore, int otherDoc) => score > otherScore || (score == otherScore && doc < otherDoc);

    /// <summary>Documents (ascending) and term frequencies of one term.</summary>
    private sealed class Postings
    {
        public int[] Documents = new int[2];
        public int[] Frequencies = new int[2];
        public int Count;

        public void Add(int doc, int tf)
        {
            if (Count == Documents.Length)
            {
                Array.Resize(ref Documents, Count * 2);
                Array.Resize(ref Frequencies, Count * 2);
            }

            Documents[Count] = doc;
            Frequencies[Count++] = tf;
        }
    }

    /// <summary>Per-thread score accumulator, reused across queries.</summary>
    private sealed class Scratch
    {
        public float[] Accumulator = [];
        public char[] Word = new char[64];
        public readonly List<int> Touched = [];

        public void Prepare(int count, int queryLength)
        {
            if (Accumulator.Length < count)
            {
                Accumulator = new float[Math.Max(count, Accumulator.Length * 2)];
            }

            if (Word.Length < queryLength)
            {
                Word = new char[Math.Max(queryLength, Word.Length * 2)];
            }
        }
    }
}
