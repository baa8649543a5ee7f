using System.Reflection;
using CalRec.Recommenders.CalRec;
using CalRec.Recommenders.LlmSeqSim;
using CalRec.Recommenders.MetaLearning;
using CalRec.Recommenders.SasRec;

namespace CalRec.Recommenders.Tests;

[TestFixture]
public class DeclaredOptionsTests
{
    private static readonly Type[] OptionTypes = [typeof(CalRecTrainer.Options), typeof(SasRecTrainer.Options), typeof(LlmSeqSimTrainer.Options)];

    // Settings that are not user choices: where a run keeps its checkpoint, whether it resumes, a stage's on/off switch
    // (its epochs say that), and LLM2SASRec's initial table (computed from the language model).
    private static readonly string[] NotSettings = ["CheckpointDirectory", "Resume", "Enabled", "InitialItemEmbeddings"];

    [TestCaseSource(nameof(OptionTypes))]
    public void EverySettingIsDeclaredOnceWithAUniqueFlag(Type type)
    {
        IReadOnlyList<DeclaredOption> declared = DeclaredOptions.Of(type);
        Assert.That(declared.Select(o => o.Flag), Is.Unique);
        Assert.That(declared.Select(o => o.Flag), Has.All.Match("^--[a-z0-9]+(-[a-z0-9]+)*$"));

        int expected = Settable(type).Count(p => !NotSettings.Contains(p.Name));
        Assert.That(declared, Has.Count.EqualTo(expected), "a new setting needs a [TrainerOption] (or belongs to NotSettings)");
    }

    [TestCaseSource(nameof(OptionTypes))]
    public void EveryDefaultReadsBackFromItsOwnSpelling(Type type)
    {
        object defaults = Activator.CreateInstance(type)!;
        foreach (DeclaredOption o in DeclaredOptions.Of(type).Where(o => o.DefaultValue is not null))
        {
            Assert.That(o.Parse(o.Format(o.DefaultValue)), Is.EqualTo(o.DefaultValue), o.Flag);
        }

        IReadOnlyDictionary<string, string> described = DeclaredOptions.Describe(defaults);
        Assert.That(described.Keys, Is.SubsetOf(DeclaredOptions.Of(type).Select(o => o.Flag[2..])));
    }

    [Test]
    public void ValuesAreSetByFlagWithAliasesPrefixesAndGroups()
    {
        var o = new CalRecTrainer.Options();
        IReadOnlyDictionary<string, DeclaredOption> flags = DeclaredOptions.Of(typeof(CalRecTrainer.Options)).ToDictionary(x => x.Flag);
        flags["--stage2-epochs"].Set(o, "7");
        flags["--pooling"].Set(o, "mean");
        flags["--w-ut"].Set(o, "0.5");
        Assert.That((o.Stage2.Epochs, o.Stage1.Epochs, o.Pooling, o.UserItemWeight), Is.EqualTo((7, 0, Models.Embeddings.Pooling.Mean, 0.5f)));

        Assert.That(() => flags["--meta-inner-steps"].Set(o, "3"), Throws.ArgumentException.With.Message.EqualTo("--meta-inner-steps needs --meta."));
        flags["--meta"].Set(o, "fomaml");
        flags["--meta-inner-steps"].Set(o, "3");
        Assert.That((o.Meta!.Algorithm, o.Meta.InnerSteps), Is.EqualTo((MetaAlgorithm.FirstOrderMaml, 3)));

        Assert.That(() => flags["--batch-size"].Set(o, "many"), Throws.ArgumentException.With.Message.EqualTo("--batch-size: 'many' is not a whole number."));
        Assert.That(() => flags["--pooling"].Set(o, "max"), Throws.ArgumentException.With.Message.EqualTo("--pooling: 'max' is not one of mean, last-token."));

        var sas = new SasRecTrainer.Options();
        IReadOnlyDictionary<string, DeclaredOption> sasFlags = DeclaredOptions.Of(typeof(SasRecTrainer.Options)).ToDictionary(x => x.Flag);
        sasFlags["--loss"].Set(sas, "bce");
        sasFlags["--batching"].Set(sas, "length");
        Assert.That((sas.Loss, sas.Batching), Is.EqualTo((SasRecLoss.BinaryCrossEntropy, SasRecBatching.LengthBuckets)));
        Assert.That(DeclaredOptions.Describe(sas)["loss"], Is.EqualTo("binary-cross-entropy"));
    }

    [Test]
    public void ProvenanceOfAFittedModelIsItsDeclaredSettings()
    {
        var described = DeclaredOptions.Describe(new CalRecTrainer.Options { Meta = new MetaLearningOptions { InnerSteps = 6 } });
        Assert.That(described["meta"], Is.EqualTo("reptile"));
        Assert.That(described["meta-inner-steps"], Is.EqualTo("6"));
        Assert.That(described["stage1-lr"], Is.EqualTo("0.001"));
        Assert.That(DeclaredOptions.Describe(new CalRecTrainer.Options())["meta"], Is.EqualTo("none"));
        Assert.That(DeclaredOptions.Describe(new CalRecTrainer.Options()).Keys, Has.None.StartsWith("meta-"), "members of an absent group are left out");
    }

    private static IEnumerable<PropertyInfo> Settable(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite).SelectMany(p =>
            p.GetCustomAttribute<TrainerOptionGroupAttribute>() is not null ? Settable(p.PropertyType) : [p]);
}
