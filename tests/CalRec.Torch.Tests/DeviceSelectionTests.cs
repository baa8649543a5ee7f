using CalRec.MLNet;
using CalRec.Torch.Devices;
using Microsoft.ML;
using TorchSharp;
using static TorchSharp.torch;

namespace CalRec.Torch.Tests;

/// <summary>MLContext.GpuDeviceId / FallbackToCpu honoured as Microsoft.ML.TorchSharp's trainers do, and the backend choice.</summary>
public sealed class DeviceSelectionTests
{
    [Test]
    public void NoGpuIdMeansTheCpuAndAGpuIdWithCudaMeansThatGpu()
    {
        Assert.That(TorchDevices.Select(null, fallbackToCpu: false, cudaAvailable: true).type, Is.EqualTo(DeviceType.CPU));
        Device gpu = TorchDevices.Select(1, fallbackToCpu: false, cudaAvailable: true);
        Assert.That((gpu.type, gpu.index), Is.EqualTo((DeviceType.CUDA, 1L)));
    }

    [Test]
    public void AGpuIdWithoutCudaThrowsUnlessFallbackToCpuThenLogs()
    {
        Assert.That(() => TorchDevices.Select(0, fallbackToCpu: false, cudaAvailable: false),
            Throws.InvalidOperationException.With.Message.EqualTo("Fallback to CPU is false but no GPU detected"));
        var log = new List<string>();
        Assert.That(TorchDevices.Select(0, fallbackToCpu: true, cudaAvailable: false, log.Add).type, Is.EqualTo(DeviceType.CPU));
        Assert.That(log, Has.One.Contains("falling back to the CPU"));
    }

    [Test]
    public void TheMLContextSettingsAreReadOnThisMachine()
    {
        Assume.That(cuda.is_available(), Is.False, "this test describes a machine without CUDA");
        Assert.That(TorchDevices.Select(new MLContext()).type, Is.EqualTo(DeviceType.CPU));
        Assert.That(() => TorchDevices.Select(new MLContext { GpuDeviceId = 0 }), Throws.InvalidOperationException);
        Assert.That(TorchDevices.Select(new MLContext { GpuDeviceId = 0, FallbackToCpu = true }).type, Is.EqualTo(DeviceType.CPU));
    }

    [Test]
    public void EstimatorsTrainOnTheDeviceTheMLContextSelectsAndLogTheFallback()
    {
        Assume.That(cuda.is_available(), Is.False, "this test describes a machine without CUDA");
        var ml = new MLContext(seed: 1) { GpuDeviceId = 0, FallbackToCpu = true };
        var warnings = new List<string>();
        ml.Log += (_, e) =>
        {
            if (e.Kind == Microsoft.ML.Runtime.ChannelMessageKind.Warning)
            {
                warnings.Add(e.RawMessage);
            }
        };
        var data = Data.Synthetic.SyntheticCatalog.Generate(new Data.Synthetic.SyntheticCatalogOptions { Seed = 2, UsersPerDomain = 30 }).ToDataset();
        MLNet.InteractionTables tables = ml.SequentialRecommendation().Data.FromDatasets([data]);
        var options = new MLNet.SasRecEstimatorOptions
        {
            Items = tables.Items,
            Trainer = new Recommenders.SasRec.SasRecTrainer.Options { Hidden = 16, MaxLength = 10, MaxEpochs = 2, MinEpochs = 2 },
        }.UseTorchSharp(ml);

        Assert.That(options.Engine, Is.Not.Null);
        Assert.That(warnings, Has.One.Contains("falling back to the CPU"));
        Assert.That(ml.SequentialRecommendation().Trainers.SasRec(options).Fit(tables.Interactions).Model.Training.Epochs, Is.EqualTo(2));
        Assert.That(() => new MLNet.CalRecEstimatorOptions().UseTorchSharp(new MLContext { GpuDeviceId = 0 }),
            Throws.InvalidOperationException.With.Message.EqualTo("Fallback to CPU is false but no GPU detected"));
        Assert.That(new MLNet.CalRecEstimatorOptions().UseTorchSharp(new MLContext()).Engine, Is.Not.Null, "no GPU id: the CPU");
    }

    [Test]
    public void DeviceFlagsAndAutoBackend()
    {
        Assert.That(TorchDevices.ParseDevice("cpu"), Is.Null);
        Assert.That(TorchDevices.ParseDevice("CUDA"), Is.EqualTo(0));
        Assert.That(TorchDevices.ParseDevice("cuda:3"), Is.EqualTo(3));
        Assert.That(() => TorchDevices.ParseDevice("gpu"), Throws.ArgumentException.With.Message.Contains("cpu, cuda or cuda:N"));
        Assert.That(TorchDevices.Resolve(ComputeBackend.Auto, CPU), Is.EqualTo(ComputeBackend.Managed));
        Assert.That(TorchDevices.Resolve(ComputeBackend.Auto, new Device(DeviceType.CUDA, 0)), Is.EqualTo(ComputeBackend.TorchSharp));
        Assert.That(TorchDevices.Resolve(ComputeBackend.TorchSharp, CPU), Is.EqualTo(ComputeBackend.TorchSharp));
        Assert.That(TorchDevices.Describe().Select(d => d.Name), Does.Contain("LibTorch"));
        Assert.That(TorchDevices.Describe().Single(d => d.Name == "LibTorch").Value, Does.StartWith("2.10"));
    }
}
