// The executor (order API, policy, journal, Binance client) is not built yet; see the README's status.
Console.Error.WriteLine("uncoded-executor: not implemented yet (see README, Status).");
return 1;
