using CalRec.Data;
using CalRec.MLNet.Tables;
using CalRec.Recommenders.CalRec;
using CalRec.Text.Templates;
using CalRec.Text.Tokenization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace CalRec.MLNet;

/// <summary>
/// The text serialization of histories as CALRec reads them: each item's text under the item template, oldest first,
/// each followed by the item separator token. Built from ML.NET's own saveable transforms (a value mapping from item
/// id to item text, a registered custom mapping that joins the texts, column copies), so a pipeline holding it saves
/// and loads like any ML.NET pipeline.
/// </summary>
internal static class HistorySerialization
{
    internal const string ContractName = "CalRec.MLNet.JoinItemTexts";
    internal const string ItemTextsColumn = "CalRec.HistoryItemTexts";
    internal const string JoinedColumn = "CalRec.HistoryText";

    internal static IEstimator<ITransformer> Create(TransformsCatalog transforms, SequentialRecommenderOptions catalogue, string? template, string inputColumnName, string outputColumnName)
    {
        ArgumentNullException.ThrowIfNull(catalogue);
        ArgumentException.ThrowIfNullOrEmpty(inputColumnName);
        ArgumentException.ThrowIfNullOrEmpty(outputColumnName);
        catalogue.Validate();
        if (catalogue.Items is null)
        {
            throw new ArgumentException("SerializeHistory needs the item catalogue: set Items (with the title and text columns) on the options.", nameof(catalogue));
        }

        ItemTextTemplate? parsed = template is null ? null : ItemTextTemplate.Parse(template);
        List<CatalogItem> items = InteractionTable.ReadItems(catalogue.Items, catalogue);
        var texts = items.Select(i => new KeyValuePair<string, string>(i.Id, ItemTextTable.Render(i, parsed).Replace(SpecialTokens.ItemSeparator, string.Empty, StringComparison.Ordinal)));
        return transforms.Conversion.MapValue(ItemTextsColumn, texts, inputColumnName)
            .Append(transforms.CustomMapping(new JoinItemTextsFactory().GetMapping(), ContractName))
            .Append(transforms.CopyColumns(outputColumnName, JoinedColumn))
            .Append(transforms.DropColumns(ItemTextsColumn, JoinedColumn));
    }
}

/// <summary>The input of the joining step of <c>SerializeHistory</c>: the texts of a history's items.</summary>
public sealed class HistoryItemTextsRow
{
    /// <summary>Item texts, oldest first (an empty text for an id outside the catalogue).</summary>
    [ColumnName(HistorySerialization.ItemTextsColumn)]
    public string[] ItemTexts { get; set; } = [];
}

/// <summary>The output of the joining step of <c>SerializeHistory</c>.</summary>
public sealed class SerializedHistoryRow
{
    /// <summary>The history as one text.</summary>
    [ColumnName(HistorySerialization.JoinedColumn)]
    public string HistoryText { get; set; } = "";
}

/// <summary>
/// The joining step of <c>SerializeHistory</c>, found by ML.NET through <see cref="CustomMappingFactoryAttributeAttribute"/>
/// when a saved pipeline holding it is loaded.
/// </summary>
[CustomMappingFactoryAttribute(HistorySerialization.ContractName)]
public sealed class JoinItemTextsFactory : CustomMappingFactory<HistoryItemTextsRow, SerializedHistoryRow>
{
    /// <summary>Each item's text followed by the item separator token, oldest first.</summary>
    public override Action<HistoryItemTextsRow, SerializedHistoryRow> GetMapping() => static (input, output) =>
        output.HistoryText = string.Concat(input.ItemTexts.Select(t => t + SpecialTokens.ItemSeparator));
}
