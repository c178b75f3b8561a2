-- An rnnsweep results database made by the code before the keys init, density,
-- frac_exc, lowrank_rank, lowrank_scale, gain_norm and floss_target existed (commit e9afea4):
--   cp v1_sweep.ini v1.ini && rnnsweep sweep v1.ini --db v1.db && sqlite3 v1.db .dump
-- plus its two header pragmas, which .dump leaves out.  tests/test_config.c
-- loads it to check an old database keeps its job hashes and gains the new columns.
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE sweeps (id INTEGER PRIMARY KEY, path TEXT, text TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE, added_at TEXT NOT NULL);
INSERT INTO sweeps VALUES(1,'v1.ini',replace('# made by rnnsweep before the init/floss_target keys existed (tests/data/v1_sweep.sql)\ntask = romo\nhidden = 8\nbatch = 4\niters = 5\nlog_every = 5\ngain = 0.5, 1.5\nfloss_iters = 0, 2\n','\n',char(10)),'c5630319e0999fa3','2026-11-30T07:08:07Z');
CREATE TABLE runs (id INTEGER PRIMARY KEY, sweep_id INTEGER REFERENCES sweeps(id),
  started_at TEXT NOT NULL, finished_at TEXT, exit_code INTEGER, jobs_done INTEGER,
  version TEXT, git TEXT, compiler TEXT, mpi TEXT, blas TEXT, sqlite TEXT,
  hosts TEXT, ranks INTEGER, slurm_job TEXT, command TEXT);
INSERT INTO runs VALUES(1,1,'2026-11-30T07:08:07Z','2026-11-30T07:08:07Z',0,4,'0.1.0','e9afea4d3086','gcc 12.2.0','Open MPI v4.1.4','OpenBLAS SkylakeX','3.40.1','vm',1,'','rnnsweep sweep v1.ini --db v1.db');
CREATE TABLE jobs (id INTEGER PRIMARY KEY,
  config_hash TEXT NOT NULL UNIQUE, config TEXT NOT NULL,
  "task" TEXT NOT NULL,
  "rule" TEXT NOT NULL,
  "gain" REAL NOT NULL,
  "lr" REAL NOT NULL,
  "seed" INTEGER NOT NULL,
  "hidden" INTEGER NOT NULL,
  "batch" INTEGER NOT NULL,
  "iters" INTEGER NOT NULL,
  "alpha" REAL NOT NULL,
  "activation" TEXT NOT NULL,
  "log_every" INTEGER NOT NULL,
  "floss_iters" INTEGER NOT NULL,
  "floss_lr" REAL NOT NULL,
  "floss_k" INTEGER NOT NULL,
  "floss_mode" TEXT NOT NULL,
  "floss_every" INTEGER NOT NULL,
  "lyap_k" INTEGER NOT NULL,
  "lyap_warmup" INTEGER NOT NULL,
  "lyap_every_qr" INTEGER NOT NULL,
  "lyap_every" INTEGER NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'done', 'diverged', 'failed', 'timeout')),
  attempts INTEGER NOT NULL DEFAULT 0, host TEXT, rank INTEGER,
  run_id INTEGER REFERENCES runs(id), started_at TEXT, finished_at TEXT,
  wall_seconds REAL, final_loss REAL, final_accuracy REAL, iters_done INTEGER,
  error TEXT);
INSERT INTO jobs VALUES(1,'e49f4305f269fc45',replace('task=romo\nrule=bptt\ngain=0.5\nlr=0.001\nseed=0\nhidden=8\nbatch=4\niters=5\nalpha=0.5\nactivation=tanh\nlog_every=5\nfloss_iters=0\nfloss_lr=0.001\nfloss_k=1\nfloss_mode=full\nfloss_every=0\nlyap_k=4\nlyap_warmup=0\nlyap_every_qr=1\nlyap_every=0\n','\n',char(10)),'romo','bptt',0.5,0.0010000000000000000208,0,8,4,5,0.5,'tanh',5,0,0.0010000000000000000208,1,'full',0,4,0,1,0,'done',1,'vm',0,1,'2026-11-30T07:08:07Z','2026-11-30T07:08:07Z',0.00036027300001251205685,0.069802801188509941421,0.25,5,NULL);
INSERT INTO jobs VALUES(2,'2dd16421d02825bf',replace('task=romo\nrule=bptt\ngain=0.5\nlr=0.001\nseed=0\nhidden=8\nbatch=4\niters=5\nalpha=0.5\nactivation=tanh\nlog_every=5\nfloss_iters=2\nfloss_lr=0.001\nfloss_k=1\nfloss_mode=full\nfloss_every=0\nlyap_k=4\nlyap_warmup=0\nlyap_every_qr=1\nlyap_every=0\n','\n',char(10)),'romo','bptt',0.5,0.0010000000000000000208,0,8,4,5,0.5,'tanh',5,2,0.0010000000000000000208,1,'full',0,4,0,1,0,'done',1,'vm',0,1,'2026-11-30T07:08:07Z','2026-11-30T07:08:07Z',0.00094353700001192919444,0.069886431490327610704,0.25,5,NULL);
INSERT INTO jobs VALUES(3,'73b9d40dc8cc0e2c',replace('task=romo\nrule=bptt\ngain=1.5\nlr=0.001\nseed=0\nhidden=8\nbatch=4\niters=5\nalpha=0.5\nactivation=tanh\nlog_every=5\nfloss_iters=0\nfloss_lr=0.001\nfloss_k=1\nfloss_mode=full\nfloss_every=0\nlyap_k=4\nlyap_warmup=0\nlyap_every_qr=1\nlyap_every=0\n','\n',char(10)),'romo','bptt',1.5,0.0010000000000000000208,0,8,4,5,0.5,'tanh',5,0,0.0010000000000000000208,1,'full',0,4,0,1,0,'done',1,'vm',0,1,'2026-11-30T07:08:07Z','2026-11-30T07:08:07Z',0.00036029400001780231832,0.07747627729134388963,0.25,5,NULL);
INSERT INTO jobs VALUES(4,'d35f6d4cc95a3b92',replace('task=romo\nrule=bptt\ngain=1.5\nlr=0.001\nseed=0\nhidden=8\nbatch=4\niters=5\nalpha=0.5\nactivation=tanh\nlog_every=5\nfloss_iters=2\nfloss_lr=0.001\nfloss_k=1\nfloss_mode=full\nfloss_every=0\nlyap_k=4\nlyap_warmup=0\nlyap_every_qr=1\nlyap_every=0\n','\n',char(10)),'romo','bptt',1.5,0.0010000000000000000208,0,8,4,5,0.5,'tanh',5,2,0.0010000000000000000208,1,'full',0,4,0,1,0,'done',1,'vm',0,1,'2026-11-30T07:08:07Z','2026-11-30T07:08:07Z',0.00066474400000515743158,0.077512013856524827892,0.25,5,NULL);
CREATE TABLE sweep_jobs (sweep_id INTEGER NOT NULL REFERENCES sweeps(id),
  job_id INTEGER NOT NULL REFERENCES jobs(id), PRIMARY KEY (sweep_id, job_id)) WITHOUT ROWID;
INSERT INTO sweep_jobs VALUES(1,1);
INSERT INTO sweep_jobs VALUES(1,2);
INSERT INTO sweep_jobs VALUES(1,3);
INSERT INTO sweep_jobs VALUES(1,4);
CREATE TABLE curves (job_id INTEGER NOT NULL REFERENCES jobs(id),
  iter INTEGER NOT NULL, loss REAL, accuracy REAL, PRIMARY KEY (job_id, iter)) WITHOUT ROWID;
INSERT INTO curves VALUES(1,0,0.068603544806282029666,0.5);
INSERT INTO curves VALUES(1,5,0.065248055530495299714,0.5);
INSERT INTO curves VALUES(2,0,0.068555547667580762905,0.5);
INSERT INTO curves VALUES(2,5,0.065213784426375751013,0.5);
INSERT INTO curves VALUES(3,0,0.075239351564230297353,0.5);
INSERT INTO curves VALUES(3,5,0.071240632481195484415,0.5);
INSERT INTO curves VALUES(4,0,0.075374702924546913007,0.5);
INSERT INTO curves VALUES(4,5,0.071394196742008253497,0.5);
CREATE TABLE lyapunov (job_id INTEGER NOT NULL REFERENCES jobs(id),
  phase TEXT NOT NULL CHECK (phase IN ('init', 'floss', 'train', 'trained')),
  iter INTEGER NOT NULL, idx INTEGER NOT NULL, value REAL, sd REAL,
  PRIMARY KEY (job_id, phase, iter, idx)) WITHOUT ROWID;
INSERT INTO lyapunov VALUES(1,'init',0,1,-0.43460193810154601479,0.001381998586497252407);
INSERT INTO lyapunov VALUES(1,'init',0,2,-0.45065422169687796571,0.0013900020711815207381);
INSERT INTO lyapunov VALUES(1,'init',0,3,-0.56674854402797769648,0.00097374304648706138352);
INSERT INTO lyapunov VALUES(1,'init',0,4,-0.55463278130713622449,0.0011202309689026745086);
INSERT INTO lyapunov VALUES(1,'trained',5,1,-0.43340296750757512089,0.0012499608216673843523);
INSERT INTO lyapunov VALUES(1,'trained',5,2,-0.44998666247622659541,0.0013397055064619546854);
INSERT INTO lyapunov VALUES(1,'trained',5,3,-0.5748062118761110284,0.0010911738565328400665);
INSERT INTO lyapunov VALUES(1,'trained',5,4,-0.5664988380811819546,0.0012452579294108668921);
INSERT INTO lyapunov VALUES(2,'floss',0,1,-0.424486948658789498,0.0013567639539085048997);
INSERT INTO lyapunov VALUES(2,'floss',0,2,-0.44075339263593310556,0.0013565931845402503901);
INSERT INTO lyapunov VALUES(2,'floss',0,3,-0.57084982763044944675,0.00077101762847210674779);
INSERT INTO lyapunov VALUES(2,'floss',0,4,-0.55816391861228231707,0.00098152936684520728817);
INSERT INTO lyapunov VALUES(2,'init',0,1,-0.43460193810154601479,0.001381998586497252407);
INSERT INTO lyapunov VALUES(2,'init',0,2,-0.45065422169687796571,0.0013900020711815207381);
INSERT INTO lyapunov VALUES(2,'init',0,3,-0.56674854402797769648,0.00097374304648706138352);
INSERT INTO lyapunov VALUES(2,'init',0,4,-0.55463278130713622449,0.0011202309689026745086);
INSERT INTO lyapunov VALUES(2,'trained',5,1,-0.42357004440522960653,0.0012256036914189845886);
INSERT INTO lyapunov VALUES(2,'trained',5,2,-0.44093162379685929552,0.0013110773866591509968);
INSERT INTO lyapunov VALUES(2,'trained',5,3,-0.58107944728069638173,0.0010160953656944398532);
INSERT INTO lyapunov VALUES(2,'trained',5,4,-0.56788171927534469851,0.0012403086025268854515);
INSERT INTO lyapunov VALUES(3,'init',0,1,-0.047204921918139589043,0.0046839890577318613398);
INSERT INTO lyapunov VALUES(3,'init',0,2,-0.057226648953034760236,0.0088199848671982970099);
INSERT INTO lyapunov VALUES(3,'init',0,3,-0.2058342103528816025,0.011200861265338760835);
INSERT INTO lyapunov VALUES(3,'init',0,4,-0.21569505261101451498,0.007014690476870419529);
INSERT INTO lyapunov VALUES(3,'trained',5,1,-0.058389324259843618236,0.0049814187005044916964);
INSERT INTO lyapunov VALUES(3,'trained',5,2,-0.068746335468591629469,0.0069075679489116765391);
INSERT INTO lyapunov VALUES(3,'trained',5,3,-0.20108657245899966281,0.0094048083268160782843);
INSERT INTO lyapunov VALUES(3,'trained',5,4,-0.21001804136885068863,0.0058570393291949946965);
INSERT INTO lyapunov VALUES(4,'floss',0,1,-0.041000046478037059649,0.0052234612241176510763);
INSERT INTO lyapunov VALUES(4,'floss',0,2,-0.051862730177484106519,0.0092675187218735147198);
INSERT INTO lyapunov VALUES(4,'floss',0,3,-0.20989519092120845211,0.011520245544592895223);
INSERT INTO lyapunov VALUES(4,'floss',0,4,-0.21945832450118563095,0.0076024154712178411766);
INSERT INTO lyapunov VALUES(4,'init',0,1,-0.047204921918139589043,0.0046839890577318613398);
INSERT INTO lyapunov VALUES(4,'init',0,2,-0.057226648953034760236,0.0088199848671982970099);
INSERT INTO lyapunov VALUES(4,'init',0,3,-0.2058342103528816025,0.011200861265338760835);
INSERT INTO lyapunov VALUES(4,'init',0,4,-0.21569505261101451498,0.007014690476870419529);
INSERT INTO lyapunov VALUES(4,'trained',5,1,-0.052376928687380107374,0.0054150746398684513824);
INSERT INTO lyapunov VALUES(4,'trained',5,2,-0.062765633289727590371,0.007251793043125113157);
INSERT INTO lyapunov VALUES(4,'trained',5,3,-0.2044922668726078252,0.0096326217554035080403);
INSERT INTO lyapunov VALUES(4,'trained',5,4,-0.21304486540308845143,0.006370074756567534191);
CREATE TABLE weights (job_id INTEGER NOT NULL REFERENCES jobs(id),
  phase TEXT NOT NULL, name TEXT NOT NULL, rows INTEGER NOT NULL,
  cols INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (job_id, phase, name));
INSERT INTO weights VALUES(2,'final','W_in',8,1,X'0b6b5a76fb1ed5bf69f18e1f4b6be73fb2aa8408e355b13f29a26cbd16a6c53fc990c54d7746e73f053f61de6f6ac1bf68b9cccbb8b4e3bff8104f728239dfbf');
INSERT INTO weights VALUES(2,'final','W_rec',8,8,X'f7378a97c7a7d5bf4fb4c6852fdeb73f58c603d9835a8a3f3ff642dc8b84a5bff53e2838af12b0bf7979bb7140f3d73fe1ee3852c1cad83f5472825b280daf3f2ea4c4ef8e32d23f5afb56c47deed4bf0ff85e8d97dbb03f14809ba76963b83f86fb15615cfebebfe28e7d8a1af6c33fe6c2256d3c76d4bfdb8e157d574ac13f38cc1f99805c933fdd292ef1f9cca13f5b17460647c6a43ff2177ce4ea5dd9bf9ee01594d4d1d23f8a0f057db188bcbf3c15a45368a5d2bf8309abe438019f3f1f3e27496769c4bff0298e6b4405d83f85f4ad283faace3f1681b94a2635bb3fc804b57c1d578d3f5f3b5e105ed4c5bf735d607c003bca3f93d4120d1ae4d83f3e941aff5ea2a73f0939e04764fb99bfe8fcb0a0f957c9bf3c9990274cd9b73f60c29d490463b2bfbc3bf58472f9c1bf4eccc4d68dd6a13f4c22f61075a8d83f8e4e04be83177b3f157a2a007583c7bf146bd128429c8e3fc2ee827ac618883f64d24862d1d5cdbf9c90a99191de67bf9d70b55b1fb8cb3f6028c8b671a6c03f115fcc671706b6bf2d54e9db1192c1bf35b1ed47e5689ebffac9a2bf7ac0b23fad5e01f9ff02a63f5972d2ef85ce6b3fb07906098f81d13f749dac9d1d03ad3ff3d93fa18a19b3bf61b8327dca4ac7bf86c8ec3b70e0d53f740d274b041ea63f67c51d4f204fbb3f7ceed2c40ea0d03f613e8d2fea05cebfe9b08442a615cbbf');
INSERT INTO weights VALUES(2,'final','b',8,1,X'4a02b92249dd7abf4abe2eba846f673fa978556e2472793ff897f8757482753f905b20ca777f7bbfb98fb794aa5a703f97b51365e76d7c3ffec5db21e0876abf');
INSERT INTO weights VALUES(2,'final','W_out',2,8,X'b6fe3a32af669a3f3f8d922278fdca3f61b59a11abfbd43ff6f2ace7ad2dc73faa8435f379d8d0bf612c283c0cf2d33ffffd4c33a25ccc3fb99015e840e8babfa959d41a2998d1bfc9ccfc893811bbbf3b4110b40422d6bf9452def9e587c5bffb102e495d0cd53f2db364dc35d8d13f8015e44f08edc3bf68332438ff5ed5bf');
INSERT INTO weights VALUES(2,'final','b_out',2,1,X'056e79c3686e743fa2d737c315b6733f');
INSERT INTO weights VALUES(4,'final','W_in',8,1,X'1b94cf1b7720d5bf401ab04e5c6be73f36274f25dd4db03f2c4f38ffd5d5c53f7c13b041f346e73fa795eb68d55fc0bf95841eace8b4e3bf9ded3a4769eddfbf');
INSERT INTO weights VALUES(4,'final','W_rec',8,8,X'c76423d31b27f0bfff527784e767d03f74056311c8bd903f80105e0e5f86c0bf4599799828dcc8bff12613da8c0cf23fc9ccc8c16bd4f23f0c22d4d50352c93fd40301363a0cec3f9ecc9ae9f914f0bf5446c82ce440c63f414d0bcc28ccd03fa611d8f5ba87d7bfbbfc79af7c60df3fd662611eacefedbf01434ad61551da3fed6af7ca4026b23f200f5ad1bc89b43fc8a5e3899f2fb93fe86b3d97db3df3bf9d1b82e057c9eb3f890189146586d4bf92ac4c036d36ebbffc96933e38ebb83f3edc295dfe17ddbf3afbebdc30d1f13fafd7e9fe4f93e63f0cec414642e0d23f71b55247ad95933f24a697b74840dfbfc70f2481d12be43fae2b7e600ce0f23fdb39a5e93afac03f1af03b126604b2bf2bab29b45cd5e2bf86a2c6909648d23fe2225a4067d1cabf85528de74348dbbfe17e45c3d254b93f19522b5abe35f23fbd48694d22119a3f99f6d3399e54e1bf7ce503201e0aa63fc0322d6a4c079e3f762ffda08113e6bf7dfe9fa9feda78bf3a89ffffc777e43fc18c56f2fe74d93f00f21c831afccdbfb10c405c72bedabf1d514c0d2e55b8bf074dbc0c05e8c83fa423bf8925f8ba3f4cdc814b4eb5963f1c89d42699a5ea3f29b65938c999c73fd9193b00449ec9bfeacd7de6b4e1e1bfd32ae6211b5af03f3be110af3650be3f8400265cdf74d33f8ee23aac3caae93f28ee6f4b4ebfe5bf7fc590b4fb21e4bf');
INSERT INTO weights VALUES(4,'final','b',8,1,X'fefb75aead297cbf9806de0ed29c75bfd1cb72d9708c7a3fc60e0b86bfbf7a3fd18e4266f45c7abf348de312c513703f59341db56fca7b3fbccd7453e9a268bf');
INSERT INTO weights VALUES(4,'final','W_out',2,8,X'13397c4a4a609a3fd7efb5eb1ecac93f7eabcf778c5dd43f448287c3882cc73fe7c217b347d7d0bf9ded5d5d40f0d33fa0959fd19b61cc3f784078b43ce1babfa5d9004f6c9ad1bfa68a7f139295b8bffbe87b6cb37ed5bf8dbf2b396584c5bff144a4c4490cd53f3bb89bfcded6d13fc87b44679433c5bf5bc5f9ba0d5fd5bf');
INSERT INTO weights VALUES(4,'final','b_out',2,1,X'4d161c218262743f196b60f343de733f');
INSERT INTO weights VALUES(1,'final','W_in',8,1,X'f60d5ad8f500d5bf90045f4cab7be73f3b9e37040edab03f82c5d94c1098c53fffc0d8e42656e73f7b5a37477853c1bf91c7fc284ac4e3bf64fc65843559dfbf');
INSERT INTO weights VALUES(1,'final','W_rec',8,8,X'dcfd2eccddc8d5bfbf765ebccf5bb73f9058a8490db4863fd020e04f8f47a4bf815f8561db1eafbff055bad311d2d73f909ce5a558ebd83fe689445c2716ae3fd1db59ce3b53d23f09f9310e230fd5bfc3d279756f58b03f07be40ef33e1b73f841b2dcb127bbebf570656807f36c43fb9d0a5f3f455d4bf0b8d0dd0a608c13f1e802516db63953fe3a631befec7a03f6fff03bc50c2a33fbec6b148ee7dd9bf6d95223b4db1d23ff15f21dacc08bcbfb61e2ec82785d2bfa2cdc8505af39c3f31c3fbc7e527c4bfe9693c6cfa25d83fd6de259d50ebce3fe7726e5213b2ba3f52cbfd160640893fd73950685093c5bf334268ec5ff9c93f27f3ba6592fed83f7941fd3549a6a83fa29f348469049cbf207c7e279b99c9bf616b1ba55956b73f578ac4ff74e6b2bfc272b4334ab6c1bf20b54e67fadfa23f8bba247fbc87d83f9702f8283607733f4ecab43a50c7c6bf1b8b2fddf126913f515d58b4842d8c3f8da1ff5bf05fcdbf8d81ecb3bfc374bfb35249acd4ffca3f4b553fb0c539c03fb0a9077e5085b5bf942e6d8e8050c1bf062463ca9a619cbfc6d90fb5de3db23f4a70e3af33ffa43f9e907dcc103f583f5dc39eb2b55fd13f982fb57e1709ae3f9677aff29c98b2bf10d9ae134409c7bfdfac7c5a2a26d63fea762eb4bf7ca63f8c05595561ccba3f4f1af93124c2d03f60f549c5c8c4cdbf1815d79b5357cbbf');
INSERT INTO weights VALUES(1,'final','b',8,1,X'cdd3358e4a0273bf83e0749cfbeb733f98a701b05dca713f00bc734aa774743f1ad1f619b7e873bf061a41391e74743fb004bad0286f743f2494a6b1a63874bf');
INSERT INTO weights VALUES(1,'final','W_out',2,8,X'585fef6e7f679a3ff89359cf9ffdca3f76f028c19dfbd43fd7d9ea54b12dc73f1b30125b50d8d0bf4edbb73efff1d33f66945af0f45bcc3f14ebd0c24de8babfa1f5ee1e2798d1bf070c6a185511bbbf00eb02800422d6bfd57723a6ec87c5bf1810101e590cd53f50593f0e37d8d13f98a666aaf2ecc3bf23591115f85ed5bf');
INSERT INTO weights VALUES(1,'final','b_out',2,1,X'd03ba407ae6e743f1fa3a2bb1eb1733f');
INSERT INTO weights VALUES(3,'final','W_in',8,1,X'19afa6ac6101d5bfbc4433fabe7be73fcddda670e9ceb03f067356b8ac97c53ffad67c2d1556e73f2f6ae45fc71fc0bf0ad758c2acc4e3bfe0afcf7266e4dfbf');
INSERT INTO weights VALUES(3,'final','W_rec',8,8,X'dbc52ae5002ff0bf2df7bbc7ab4bd03fa68b46a2d9608d3f1d726b1aec48c0bf3c22c2d0289bc8bf1629a9f4ca04f23ffdf23416cfdbf23f155a9f200213c93faaea3a75111cec3fa0486c92961cf0bf3a201b697b00c63f5fd2cb3092acd03fd9f08e53e17dd7bfae68c328827fdf3f4763e72357dfedbf257264568c30da3fc29d29caf0a2b23f2cb84e730d16b43f05fdfa297badb83f586fc6a2e745f3bff21075e30cb9eb3fa6d87cfdcd66d4bf1c6e6c603a26ebbff57d4abb2d6db83f8b4a34bcb1f7dcbfb60f85747ad7f13f9a3ce3f3ac9ee63f0f551e6475c0d23f97e6d4fd3a8c913f2d284e3e9420dfbf87eaabada21be43f56a1ab3bfee7f23fde6a1ab3013bc13f53a4f29f1978b2bfcd4050a714e5e2bf72ef7d3b8b2ad23fb562f233d811cbbfe4ba3f595d27dbbf3c80f52becd2b93f59f148f12535f23fa8636049e30e983fe7d028bc8364e1bf25abf5949208a53f4db5f9826006a03f10e87a531e03e6bf81980e5aa27c80bfa366a47e9f72e43fbc17d88ac690d93f0130c25be9c3cdbf94be21ed149edabf36e2bfa851ddb7bf34958c3c4bd1c83fb15f1c721c7cba3f42213186e5a8973f939477db209cea3f35a4eb5cd1d8c73f83311584f25cc9bf5049301079e8e1bf9fc3795c2f52f03f5ceaacf442cdbd3f8b9027786e5bd33f3055887eb0bae93f57f5d021e9afe5bf63efce372c32e4bf');
INSERT INTO weights VALUES(3,'final','b',8,1,X'879f6407024974bf8a9583daad6e73bfbaab5693aea9723facfc6550c696723fc96eaf06fed772bfad0fd9fdc464743f0bee2a8a4261743fb5aba3de808474bf');
INSERT INTO weights VALUES(3,'final','W_out',2,8,X'd14ff56ecb5f9a3f66a58a5ad0d5c93f9119dbc52b62d43f1acf7acda52cc73f4c7e206947d7d0bfd396272c38f0d33fdede48dff55dcc3f2d5c09f705e2babfba592f4c659ad1bf9e94b2f87d9cb8bf9ab60dffc17ed5bfc25520368584c5bf15e8eac2490cd53f9f7e628cd4d6d13f75776b525433c5bf650aa465095fd5bf');
INSERT INTO weights VALUES(3,'final','b_out',2,1,X'cf37bd2a5263743f2d66035fd2dd733f');
CREATE TABLE checkpoints (job_id INTEGER PRIMARY KEY REFERENCES jobs(id),
  iter INTEGER, saved_at TEXT NOT NULL, data BLOB NOT NULL);
CREATE INDEX jobs_status ON jobs(status);
CREATE VIEW summary AS
WITH f AS (SELECT "task", "rule", "gain", "lr", "floss_iters", "hidden", "batch", "iters", "alpha", "activation", "log_every", "floss_lr", "floss_k", "floss_mode", "floss_every", "lyap_k", "lyap_warmup", "lyap_every_qr", "lyap_every", status, final_loss, final_accuracy,
  AVG(CASE WHEN status = 'done' THEN final_loss END) OVER (PARTITION BY "task", "rule", "gain", "lr", "floss_iters", "hidden", "batch", "iters", "alpha", "activation", "log_every", "floss_lr", "floss_k", "floss_mode", "floss_every", "lyap_k", "lyap_warmup", "lyap_every_qr", "lyap_every") AS m FROM jobs)
SELECT "task", "rule", "gain", "lr", "floss_iters", "hidden", "batch", "iters", "alpha", "activation", "log_every", "floss_lr", "floss_k", "floss_mode", "floss_every", "lyap_k", "lyap_warmup", "lyap_every_qr", "lyap_every",
  COUNT(*) AS n_jobs,
  SUM(status IN ('done', 'diverged')) AS n_seeds,
  SUM(status = 'done') AS n_done,
  SUM(status = 'diverged') AS n_diverged,
  AVG(CASE WHEN status = 'done' THEN final_loss END) AS mean_final_loss,
  sqrt(SUM(CASE WHEN status = 'done' THEN (final_loss - m) * (final_loss - m) END) / NULLIF(COUNT(CASE WHEN status = 'done' THEN final_loss END) - 1, 0)) AS sd_final_loss,
  SUM(CASE WHEN status = 'done' THEN (final_loss - m) * (final_loss - m) END) / NULLIF(COUNT(CASE WHEN status = 'done' THEN final_loss END) - 1, 0) AS var_final_loss,
  AVG(CASE WHEN status = 'done' THEN final_accuracy END) AS mean_final_accuracy
FROM f GROUP BY "task", "rule", "gain", "lr", "floss_iters", "hidden", "batch", "iters", "alpha", "activation", "log_every", "floss_lr", "floss_k", "floss_mode", "floss_every", "lyap_k", "lyap_warmup", "lyap_every_qr", "lyap_every" ORDER BY "task", "rule", "gain", "lr", "floss_iters", "hidden", "batch", "iters", "alpha", "activation", "log_every", "floss_lr", "floss_k", "floss_mode", "floss_every", "lyap_k", "lyap_warmup", "lyap_every_qr", "lyap_every";
CREATE VIEW best_lr AS
SELECT "task", "rule", "gain", "floss_iters", "hidden", "batch", "iters", "alpha", "activation", "log_every", "floss_lr", "floss_k", "floss_mode", "floss_every", "lyap_k", "lyap_warmup", "lyap_every_qr", "lyap_every", lr, n_lrs, n_jobs, n_seeds, n_done, n_diverged, mean_final_loss,
  sd_final_loss, var_final_loss, mean_final_accuracy
FROM (SELECT *,
    ROW_NUMBER() OVER (PARTITION BY "task", "rule", "gain", "floss_iters", "hidden", "batch", "iters", "alpha", "activation", "log_every", "floss_lr", "floss_k", "floss_mode", "floss_every", "lyap_k", "lyap_warmup", "lyap_every_qr", "lyap_every" ORDER BY n_diverged, mean_final_loss IS NULL, mean_final_loss, lr) AS pick,
    COUNT(*) OVER (PARTITION BY "task", "rule", "gain", "floss_iters", "hidden", "batch", "iters", "alpha", "activation", "log_every", "floss_lr", "floss_k", "floss_mode", "floss_every", "lyap_k", "lyap_warmup", "lyap_every_qr", "lyap_every") AS n_lrs
  FROM summary WHERE n_seeds > 0)
WHERE pick = 1 ORDER BY "task", "rule", "gain", "floss_iters", "hidden", "batch", "iters", "alpha", "activation", "log_every", "floss_lr", "floss_k", "floss_mode", "floss_every", "lyap_k", "lyap_warmup", "lyap_every_qr", "lyap_every";
COMMIT;
PRAGMA application_id = 1380864855;
PRAGMA user_version = 1;
