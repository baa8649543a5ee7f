using CalRec.MLNet.Tables;
using CalRec.Recommenders.Evaluation;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace CalRec.MLNet.Evaluation;

/// <summary>
/// Metrics from a scored table: each row's label is looked up in its predicted list, so NDCG/HR/MRR@K equal the
/// full-ranking evaluator's for every K up to the list length (an item outside the list scores 0 at every such K).
/// </summary>
internal static class ScoredTableEvaluator
{
    internal static (RecommendationMetrics Metrics, List<string?> Groups) Evaluate(IDataView scored, string labelColumnName, string predictedItemIdsColumnName,
        IReadOnlyList<int> ks, int? catalogSize, string? groupColumnName, int bootstrapSamples, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(scored);
        if (ks.Count == 0 || ks.Any(k => k <= 0))
        {
            throw new ArgumentException("Every K must be positive.", nameof(ks));
        }

        const string Table = "scored table";
        DataViewSchema.Column label = ColumnReader.Require(scored.Schema, labelColumnName, Table, ColumnReader.IdTypes, ColumnReader.IsId);
        DataViewSchema.Column predicted = ColumnReader.Require(scored.Schema, predictedItemIdsColumnName, Table, "a vector of text (item ids, best first)", ColumnReader.IsTextVector);
        DataViewSchema.Column? group = groupColumnName is null ? null : ColumnReader.Require(scored.Schema, groupColumnName, Table, "text", t => t is TextDataViewType);
        int maxK = ks.Max();
        var ranks = new List<int>();
        var groups = new List<string?>();
        var covered = new HashSet<string>(StringComparer.Ordinal);
        HashSet<string>.AlternateLookup<ReadOnlySpan<char>> coveredIds = covered.GetAlternateLookup<ReadOnlySpan<char>>();
        using DataViewRowCursor cursor = scored.GetRowCursor(group is { } g ? [label, predicted, g] : [label, predicted]);
        Func<string> getLabel = ColumnReader.IdGetter(cursor, label);
        ValueGetter<VBuffer<ReadOnlyMemory<char>>> getPredicted = cursor.GetGetter<VBuffer<ReadOnlyMemory<char>>>(predicted);
        ValueGetter<ReadOnlyMemory<char>>? getGroup = group is { } gc ? cursor.GetGetter<ReadOnlyMemory<char>>(gc) : null;
        VBuffer<ReadOnlyMemory<char>> list = default;
        ReadOnlyMemory<char> groupValue = default;
        bool shortList = false;
        while (cursor.MoveNext())
        {
            string target = getLabel();
            getPredicted(ref list);
            ReadOnlySpan<ReadOnlyMemory<char>> ids = list.GetValues();
            shortList |= ids.Length < maxK;
            int rank = maxK;
            for (int i = 0; i < ids.Length; i++)
            {
                if (i < maxK)
                {
                    coveredIds.Add(ids[i].Span);
                }

                if (rank == maxK && ids[i].Span.SequenceEqual(target))
                {
                    rank = Math.Min(i, maxK);
                }
            }

            ranks.Add(rank);
            if (getGroup is not null)
            {
                getGroup(ref groupValue);
                groups.Add(groupValue.ToString());
            }
        }

        if (ranks.Count == 0)
        {
            throw new InvalidDataException($"{Table}: no rows to evaluate.");
        }

        if (shortList && catalogSize is null)
        {
            // A list shorter than K is fine when the catalogue ran out, but a too small TopK would silently lower HR@K.
            throw new ArgumentException($"Some rows of '{predictedItemIdsColumnName}' hold fewer than {maxK} items: score with TopK >= {maxK} (or give catalogSize when the catalogue is that small).", nameof(ks));
        }

        double coverage = catalogSize is int n && n > 0 ? covered.Count / (double)n : double.NaN;
        var metrics = new RecommendationMetrics(ks, [.. ranks], coverage, bootstrapSamples, seed, "full ranking from a scored table (top-K lists)");
        return (metrics, groups);
    }
}
