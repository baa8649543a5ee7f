// Trains a byte-level BPE tokenizer and a tiny Llama-style decoder on the synthetic catalogue with the library API,
// then saves a Hugging Face model folder. Run: dotnet run --project samples/TrainTinyLanguageModel -c Release
using CalRec.Data.Synthetic;
using CalRec.Models.Checkpoints;
using CalRec.Models.Configuration;
using CalRec.Models.Decoder;
using CalRec.Models.Training;
using CalRec.Text.Tokenization;

SyntheticCatalog catalog = SyntheticCatalog.Generate(new SyntheticCatalogOptions { Seed = 1, UsersPerDomain = 100 });
string[] texts = catalog.Items.Select(i => i.ToText()).ToArray();

ByteLevelBpeTokenizer tokenizer = ByteLevelBpeTokenizer.Train(texts, new BpeTrainerOptions { VocabularySize = 1024 });
int eos = tokenizer.TokenToId("<|endoftext|>")!.Value;

DecoderConfig config = DecoderConfig.Load(Path.Combine(AppContext.BaseDirectory, "tiny.json")) with { VocabSize = tokenizer.VocabularySize };
var model = new DecoderLM(config, seed: 1);
var data = new PackedTokenDataset(texts.Select(tokenizer.EncodeToIds), eos, sequenceLength: 64);
var trainer = new CausalLmTrainer(model, new CausalLmTrainerOptions { Steps = 30, BatchSize = 8, EvalEvery = 0 });
trainer.Progress += (_, step) =>
    Console.WriteLine($"step {step.Step}: loss {step.Loss:F3}{(step.ValidationPerplexity is double p ? $", perplexity {p:F1}" : string.Empty)}");
trainer.Train(data, validation: data);

string output = Path.Combine(Path.GetTempPath(), "calrec-tiny-lm");
HuggingFaceCheckpoint.Save(model, tokenizer, output);
Console.WriteLine($"saved {output}");
