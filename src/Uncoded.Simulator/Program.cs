using Uncoded.Simulator.Hosting;

return await SimulatorCli.RunAsync(args).ConfigureAwait(false);
