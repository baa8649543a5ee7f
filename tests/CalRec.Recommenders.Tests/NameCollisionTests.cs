using CalRec.Data;
using CalRec.Models.Adapters;
using CalRec.Models.Decoder;
using CalRec.Models.Training;
using CalRec.Recommenders.CalRec;
using CalRec.Recommenders.Catalogs;
using CalRec.Recommenders.Evaluation;
using CalRec.Recommenders.Grounding;
using CalRec.Recommenders.SasRec;
using CalRec.Tensors;
using CalRec.Tensors.NN;
using CalRec.Tensors.Optim;
using CalRec.Text.Tokenization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Tokenizers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace CalRec.Recommenders.Tests;

/// <summary>
/// Every CalRec namespace imported next to ML.NET's, Microsoft.ML.Tokenizers' and TorchSharp's (including the usual
/// <c>using static TorchSharp.torch</c>): our types must stay usable by their simple names with no alias. This file
/// failing to compile is the failure; the assertions only touch our side (TorchSharp's native library is never loaded).
/// </summary>
[TestFixture]
public class NameCollisionTests
{
    [Test]
    public void OurTypesAreUsableBySimpleNameBesideMlNetAndTorchSharp()
    {
        var random = new SeededRandom(1);
        using ManagedTensor x = ManagedTensor.zeros(2, 3);
        var layer = new LinearLayer(3, 2, bias: true, random);
        var norm = new LayerNormalization(3);
        var table = new EmbeddingTable(4, 3, random);
        var list = new NeuralModuleList<LinearLayer>();
        list.Add(layer);
        var optimizer = new AdamWOptimizer([new ParameterGroup([.. layer.parameters()], 0f)]);
        NeuralModule module = list;
        var options = new TrainerOptionAttribute("x", "y");
        Type[] ours = [typeof(ByteLevelBpeTokenizer), typeof(PatternPreTokenizer), typeof(RecommendationMetrics), typeof(TrainingLogEventArgs), typeof(DecoderLM),
            typeof(LoraConfig), typeof(EarlyStopping), typeof(CalRecTrainer), typeof(SasRecTrainer), typeof(GroundedScorer), typeof(InteractionDataset), typeof(RecTextCatalog),
            typeof(RecDataCatalog), typeof(RecModelCatalog), typeof(RecRankingCatalog)];

        Assert.That(ours.Select(t => t.Assembly.GetName().Name), Has.All.StartWith("CalRec."));
        Assert.That((x.numel, module.parameter_count(), norm.parameter_count(), table.parameter_count(), optimizer.StepCount, options.Name), Is.EqualTo((6, 8, 6, 12, 0L, "x")));
        Assert.That(new[] { nameof(torch.Tensor), nameof(Module), nameof(Linear), nameof(LayerNorm), nameof(Embedding), nameof(AdamW), nameof(torch.Generator),
            nameof(Tokenizer), nameof(BpeTokenizer), nameof(PreTokenizer), nameof(MLContext), nameof(LoggingEventArgs), nameof(RankingMetrics),
            nameof(RegexPreTokenizer), nameof(TextCatalog), nameof(DataOperationsCatalog), nameof(ModelOperationsCatalog), nameof(RankingCatalog), nameof(torch.FloatTensor) }, Has.None.Empty,
            "the other libraries' types of those names are in scope here");
    }

    [Test]
    public void NoTopLevelTypeOfOursSharesANameWithTheirsOrWithTorchSharpsStaticMembers()
    {
        System.Reflection.Assembly[] ours = [typeof(ManagedTensor).Assembly, typeof(ByteLevelBpeTokenizer).Assembly, typeof(InteractionDataset).Assembly, typeof(DecoderLM).Assembly,
            typeof(RecContext).Assembly];
        System.Reflection.Assembly[] theirs = [typeof(torch).Assembly, typeof(MLContext).Assembly, typeof(TextLoader).Assembly, typeof(IDataView).Assembly, typeof(Tokenizer).Assembly];
        var taken = new HashSet<string>(StringComparer.Ordinal);
        foreach (Type t in theirs.SelectMany(a => a.GetExportedTypes()))
        {
            taken.Add(Simple(t));
            if (t is { IsAbstract: true, IsSealed: true })
            {
                // A static class's members come into scope with `using static` (torch.FloatTensor(...), torch.nn.Linear(...)).
                taken.UnionWith(t.GetMembers(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static).Select(m => m.Name));
            }
        }

        string[] clashes = ours.SelectMany(a => a.GetExportedTypes()).Where(t => !t.IsNested).Select(Simple).Where(taken.Contains).Distinct().Order().ToArray();
        Assert.That(clashes, Is.Empty);
    }

    private static string Simple(Type t) => t.Name.Split('`')[0];
}
