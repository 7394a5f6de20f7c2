// Used only to run the local node (`hardhat node`); contracts are compiled offline by
// order_system/compile.mjs with solc-js, so no `solidity` compiler download is ever attempted.
module.exports = {
  networks: {
    hardhat: {
      chainId: 31337,
    },
  },
};
